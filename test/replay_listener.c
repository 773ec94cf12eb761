/*
 * replay_listener.c -- a libpq client of a durable channel that loses
 * nothing across reconnects: the pattern of docs/channels.md, used by
 * test/t/028_durable_channels.pl.
 *
 * Usage: replay_listener "<conninfo>" <channel> <last_seen> <count> <timeout_s>
 *
 *   1. LISTEN "foundation:<channel>"
 *   2. SELECT seq, message FROM foundation.replay(<channel>, <last_seen>)
 *   3. take notifications, skipping any whose seq <= the last seq seen
 *
 * Prints READY after step 1 and one line per message, flushed at once:
 *   <seq>\t<replay|notify>\t<message text as the server holds it>
 * until <count> messages were printed or <timeout_s> seconds passed.
 * A durable payload is {"foundation_seq": <seq>, "message": <form>}, where
 * <form> is the plain, compressed or by-reference form; this client prints
 * <form> as it came (the test sends small plain messages).
 *
 * Exit status: 0 when <count> messages were printed, 1 on timeout, 2 on
 * any error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>

#define SEQ_PREFIX "{\"foundation_seq\": "
#define MSG_KEY ", \"message\": "

static void
die(PGconn *conn, const char *what)
{
	fprintf(stderr, "replay_listener: %s: %s", what, PQerrorMessage(conn));
	PQfinish(conn);
	exit(2);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	const char *params[2];
	char		sql[128];
	long long	last;
	long		count,
				printed = 0;
	time_t		deadline;
	int			i;

	if (argc != 6)
	{
		fprintf(stderr, "usage: replay_listener conninfo channel last_seen count timeout_s\n");
		return 2;
	}
	last = atoll(argv[3]);
	count = atol(argv[4]);
	deadline = time(NULL) + atol(argv[5]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
		die(conn, "connect");

	/* 1. LISTEN first: whatever commits from now on is notified. */
	snprintf(sql, sizeof(sql), "LISTEN \"foundation:%s\"", argv[2]);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(conn, "LISTEN");
	PQclear(res);
	printf("READY\n");

	/* 2. What committed before, after the last seq this client saw. */
	params[0] = argv[2];
	params[1] = argv[3];
	res = PQexecParams(conn,
					   "SELECT seq, message::text FROM foundation.replay($1, $2)",
					   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die(conn, "replay");
	for (i = 0; i < PQntuples(res) && printed < count; i++, printed++)
	{
		last = atoll(PQgetvalue(res, i, 0));
		printf("%lld\treplay\t%s\n", last, PQgetvalue(res, i, 1));
	}
	PQclear(res);

	/* 3. Notifications; those replayed already come again: skip them. */
	while (printed < count)
	{
		PGnotify   *n;
		fd_set		fds;
		struct timeval tv = {1, 0};
		int			sock = PQsocket(conn);

		while (printed < count && (n = PQnotifies(conn)) != NULL)
		{
			const char *p = n->extra;
			char	   *end;
			long long	seq;
			size_t		len;

			if (strncmp(p, SEQ_PREFIX, strlen(SEQ_PREFIX)) != 0)
			{
				fprintf(stderr, "replay_listener: not a durable payload: %s\n", p);
				exit(2);
			}
			seq = strtoll(p + strlen(SEQ_PREFIX), &end, 10);
			if (strncmp(end, MSG_KEY, strlen(MSG_KEY)) != 0)
			{
				fprintf(stderr, "replay_listener: malformed payload: %s\n", p);
				exit(2);
			}
			end += strlen(MSG_KEY);
			len = strlen(end) - 1;	/* without the closing brace */
			if (seq > last)
			{
				last = seq;
				printf("%lld\tnotify\t%.*s\n", seq, (int) len, end);
				printed++;
			}
			PQfreemem(n);
		}
		if (printed >= count)
			break;
		if (time(NULL) >= deadline)
		{
			PQfinish(conn);
			return 1;
		}
		FD_ZERO(&fds);
		FD_SET(sock, &fds);
		if (select(sock + 1, &fds, NULL, NULL, &tv) < 0)
			die(conn, "select");
		if (!PQconsumeInput(conn))
			die(conn, "PQconsumeInput");
	}
	PQfinish(conn);
	return 0;
}
