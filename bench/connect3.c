/*
 * connect3.c -- the raw cost of "just connecting to the nodes with libpq in
 * parallel": the baseline of benchmark 8 (one foundation health check over
 * three nodes).  Part of bench/run; see docs/benchmarks.md.
 *
 *   connect3 [--samples N] [--warmup N] [--sql QUERY] CONNINFO...
 *
 * Each sample, timed with CLOCK_MONOTONIC from just before the first
 * PQconnectStart until the last connection is closed:
 *   - PQconnectStart on every conninfo at once;
 *   - all sockets waited on together with poll(), PQconnectPoll on the
 *     ready ones, until each connection is made;
 *   - on each connection, as soon as it is made, PQsendQuery("SELECT 1");
 *     its result read with PQconsumeInput/PQisBusy/PQgetResult as its
 *     socket becomes readable, checked to be the single value 1, and the
 *     connection closed with PQfinish.
 * The same non-blocking pattern as foundation's own parallel calls
 * (src/remote.c), without retries.  Any failure, or a sample taking more
 * than 10 s, stops the program with status 1.
 *
 * Prints one line per measured sample: the time in ms (3 decimals).  The
 * --warmup samples (default 5) run first and are not printed.
 *
 * --sql QUERY runs QUERY instead of SELECT 1 (it must return one row; its
 * value is not checked).  bench/run uses it only for a diagnostic figure
 * (the same connections with the query the health check sends), not for
 * the baseline.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define BENCH_NAME "connect3"
#include "bench_util.h"

#define MAX_NODES 16
#define DEADLINE_MS 10000.0
#define SELECT_1 "SELECT 1"

static const char *query = SELECT_1;

typedef enum
{
	ST_CONNECTING,
	ST_QUERYING,
	ST_DONE
} State;

typedef struct Node
{
	const char *conninfo;
	PGconn	   *conn;
	State		state;
	PostgresPollingStatusType poll;
} Node;

static void
finish(Node *n)
{
	if (n->conn)
		PQfinish(n->conn);
	n->conn = NULL;
	n->state = ST_DONE;
}

/* Advance one node after its socket was ready. */
static void
step(Node *n)
{
	if (n->state == ST_CONNECTING)
	{
		n->poll = PQconnectPoll(n->conn);
		if (n->poll == PGRES_POLLING_FAILED)
			die("connecting to \"%s\": %s", n->conninfo, PQerrorMessage(n->conn));
		if (n->poll == PGRES_POLLING_OK)
		{
			if (!PQsendQuery(n->conn, query))
				die("sending \"%s\" to \"%s\": %s", query, n->conninfo, PQerrorMessage(n->conn));
			n->state = ST_QUERYING;
		}
		return;
	}
	if (n->state == ST_QUERYING)
	{
		PGresult   *res;
		int			got = 0;

		if (!PQconsumeInput(n->conn))
			die("reading from \"%s\": %s", n->conninfo, PQerrorMessage(n->conn));
		if (PQisBusy(n->conn))
			return;
		while ((res = PQgetResult(n->conn)) != NULL)
		{
			if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
				(strcmp(query, SELECT_1) == 0 && strcmp(PQgetvalue(res, 0, 0), "1") != 0))
				die("\"%s\" on \"%s\" did not return the expected row: %s", query,
					n->conninfo, PQresultErrorMessage(res));
			got++;
			PQclear(res);
		}
		if (got != 1)
			die("\"%s\" on \"%s\" returned %d results", query, n->conninfo, got);
		finish(n);
	}
}

/* One sample: connect to all, SELECT 1 on each, close; returns ms. */
static double
sample(const char **conninfos, int nnodes)
{
	Node		nodes[MAX_NODES];
	struct pollfd fds[MAX_NODES];
	int			idx[MAX_NODES];
	double		t0 = now_ms();
	int			i;

	for (i = 0; i < nnodes; i++)
	{
		nodes[i].conninfo = conninfos[i];
		nodes[i].conn = PQconnectStart(conninfos[i]);
		if (nodes[i].conn == NULL)
			die("out of memory");
		if (PQstatus(nodes[i].conn) == CONNECTION_BAD)
			die("connecting to \"%s\": %s", conninfos[i], PQerrorMessage(nodes[i].conn));
		nodes[i].state = ST_CONNECTING;
		nodes[i].poll = PGRES_POLLING_WRITING;
	}
	for (;;)
	{
		int			n = 0;
		double		remain;
		int			rc;

		for (i = 0; i < nnodes; i++)
		{
			if (nodes[i].state == ST_DONE)
				continue;
			fds[n].fd = PQsocket(nodes[i].conn);
			fds[n].events = (nodes[i].state == ST_CONNECTING &&
							 nodes[i].poll == PGRES_POLLING_WRITING) ? POLLOUT : POLLIN;
			fds[n].revents = 0;
			idx[n] = i;
			n++;
		}
		if (n == 0)
			break;
		remain = DEADLINE_MS - (now_ms() - t0);
		if (remain <= 0)
			die("no answer from all nodes within %.0f ms", DEADLINE_MS);
		rc = poll(fds, n, (int) remain + 1);
		if (rc < 0 && errno != EINTR)
			die("poll() failed: %s", strerror(errno));
		for (i = 0; i < n; i++)
			if (fds[i].revents != 0)
				step(&nodes[idx[i]]);
	}
	return now_ms() - t0;
}

static int
int_arg(const char *s, int min)
{
	char	   *end;
	long		v = strtol(s, &end, 10);

	if (*end != '\0' || v < min || v > 1000000)
		die("bad count: %s", s);
	return (int) v;
}

int
main(int argc, char **argv)
{
	const char *conninfos[MAX_NODES];
	int			nnodes = 0;
	int			samples = 50;
	int			warmup = 5;
	int			i;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--samples") == 0 || strcmp(argv[i], "--warmup") == 0 ||
			strcmp(argv[i], "--sql") == 0)
		{
			if (i + 1 >= argc)
				die("option %s needs a value", argv[i]);
			if (strcmp(argv[i], "--samples") == 0)
				samples = int_arg(argv[i + 1], 1);
			else if (strcmp(argv[i], "--warmup") == 0)
				warmup = int_arg(argv[i + 1], 0);
			else
				query = argv[i + 1];
			i++;
		}
		else if (strncmp(argv[i], "--", 2) == 0)
			die("unknown option %s", argv[i]);
		else
		{
			if (nnodes == MAX_NODES)
				die("at most %d conninfo strings", MAX_NODES);
			conninfos[nnodes++] = argv[i];
		}
	}
	if (nnodes == 0)
		die("usage: connect3 [--samples N] [--warmup N] [--sql QUERY] CONNINFO...");

	for (i = 0; i < warmup; i++)
		(void) sample(conninfos, nnodes);
	for (i = 0; i < samples; i++)
		printf("%.3f\n", sample(conninfos, nnodes));
	return 0;
}
