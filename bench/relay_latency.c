/*
 * relay_latency.c -- latency of foundation.broadcast across nodes, next to
 * foundation.local_broadcast: from the publishing client's commit until a
 * libpq listener on the publisher's own server, and one on another member,
 * has the message.  Part of bench/run (benchmark 15); see
 * docs/benchmarks.md.  Benchmark 6's bench/notify_latency.c measures one
 * server; this one takes separate conninfos for the publisher and the two
 * listeners.
 *
 *   relay_latency --publisher CONNINFO --here CONNINFO --remote CONNINFO
 *                 [--samples N] [--warmup N]
 *
 *   publisher  the member that publishes (bench_m1)
 *   here       a listener on the publisher's server (same server as
 *              --publisher, its own connection)
 *   remote     a listener on another member (bench_m2)
 *
 * Both listeners run LISTEN "foundation:events".  Samples alternate
 * between two kinds, N of each (after N warm-up samples of each, not
 * measured), each message {"seq": k} with k unique over the run:
 *
 *   local      SELECT foundation.local_broadcast('events', $1::jsonb)
 *              expected on "here" only
 *   broadcast  SELECT foundation.broadcast('events', $1::jsonb)
 *              expected on "here" (at the commit) and on "remote" (through
 *              the publisher's outbox and relay)
 *
 * Per sample, all times clock_gettime(CLOCK_MONOTONIC) of this one process
 * (publisher and listeners are on this machine, in this thread):
 *   t0  just before the publisher sends its autocommit statement
 *   t1  when PQexecParams returned: the commit is done
 *   th  when the listener "here" got the notification (PQnotifies)
 *   tx  when the listener "remote" got it (broadcast only)
 *   te  broadcast only: when the publisher's foundation.outbox was first
 *       seen empty again (polled over the publisher's connection every
 *       1 ms after both listeners had the message): the relay has delivered
 *       it to every other member, not only to "remote".  The next sample
 *       starts only then, so each message goes into an idle relay.
 *       local only: the outbox is checked to be empty (local_broadcast
 *       writes none).
 * Each notification's channel and payload (the text sent) are checked; a
 * notification on "remote" for a local sample, or any other unexpected
 * one, stops the run.  After the last sample both listeners are drained
 * once more after 500 ms.
 *
 * Prints one line per series (ms, percentiles by nearest rank):
 *   RESULT series n commit_p50 commit_p95 commit_p99 commit_max
 *          send_p50 send_p99 stmt_p50 stmt_p99
 * where commit = t_listener - t1, send = t_listener - t0, stmt = t1 - t0,
 * and series is local_here (th of local samples), bc_here (th of
 * broadcast samples), bc_remote (tx) or bc_outbox (te, "listener" read as
 * "outbox empty").
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define BENCH_NAME "relay_latency"
#include "bench_util.h"

#define TOPIC "foundation:events"
#define WAIT_MS 30000
#define LOCAL_SQL "SELECT foundation.local_broadcast('events', $1::jsonb)"
#define BC_SQL "SELECT foundation.broadcast('events', $1::jsonb)"
#define OUTBOX_SQL "SELECT count(*) FROM foundation.outbox_messages"

static void
sleep_ms(double ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t) (ms / 1000);
	ts.tv_nsec = (long) ((ms - ts.tv_sec * 1000.0) * 1e6);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static PGconn *
connect_db(const char *conninfo, const char *what)
{
	PGconn	   *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		die("could not connect (%s, %s): %s", what, conninfo, PQerrorMessage(c));
	return c;
}

static long
outbox_rows(PGconn *c)
{
	PGresult   *r = PQexec(c, OUTBOX_SQL);
	long		n;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", OUTBOX_SQL, PQerrorMessage(c));
	n = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* Nothing may be pending on a listener between samples. */
static void
drain(PGconn *listener, const char *what)
{
	PGnotify   *n;

	if (!PQconsumeInput(listener))
		die("listener %s: %s", what, PQerrorMessage(listener));
	if ((n = PQnotifies(listener)) != NULL)
		die("unexpected notification on listener %s (%s from pid %d: %s)",
			what, n->relname, n->be_pid, n->extra);
}

typedef struct Listener
{
	const char *name;
	PGconn	   *conn;
	int			expect;			/* waiting for this sample's message */
	double		at;				/* when it arrived */
} Listener;

/*
 * Wait until every listener with expect set has the notification whose
 * payload is `text`, noting when each got it.
 */
static void
wait_all(Listener *ls, int nl, const char *text)
{
	double		deadline = now_ms() + WAIT_MS;

	for (;;)
	{
		struct pollfd p[2];
		int			waiting = 0;
		int			i;
		double		left;

		for (i = 0; i < nl; i++)
		{
			PGnotify   *n;

			if (!PQconsumeInput(ls[i].conn))
				die("listener %s: %s", ls[i].name, PQerrorMessage(ls[i].conn));
			while ((n = PQnotifies(ls[i].conn)) != NULL)
			{
				double		t = now_ms();

				if (!ls[i].expect || strcmp(n->relname, TOPIC) != 0 ||
					strcmp(n->extra, text) != 0)
					die("unexpected notification on listener %s: %s \"%s\" from pid %d (waiting for %s)",
						ls[i].name, n->relname, n->extra, n->be_pid,
						ls[i].expect ? text : "nothing");
				ls[i].expect = 0;
				ls[i].at = t;
				PQfreemem(n);
			}
		}
		for (i = 0; i < nl; i++)
			if (ls[i].expect)
			{
				p[waiting].fd = PQsocket(ls[i].conn);
				p[waiting].events = POLLIN;
				p[waiting].revents = 0;
				waiting++;
			}
		if (waiting == 0)
			return;
		left = deadline - now_ms();
		if (left <= 0)
			die("no notification \"%s\" within %d ms on listener %s%s", text, WAIT_MS,
				ls[0].expect ? ls[0].name : ls[1].name,
				ls[0].expect && ls[1].expect ? " (nor on the other)" : "");
		if (poll(p, waiting, (int) left + 1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
}

typedef struct Series
{
	const char *name;
	int			n;
	double	   *commit;
	double	   *send;
	double	   *stmt;
} Series;

static void
series_init(Series *s, const char *name, int n)
{
	s->name = name;
	s->n = n;
	s->commit = xmalloc(sizeof(double) * n);
	s->send = xmalloc(sizeof(double) * n);
	s->stmt = xmalloc(sizeof(double) * n);
}

static void
series_add(Series *s, int i, double t0, double t1, double t)
{
	s->commit[i] = t - t1;
	s->send[i] = t - t0;
	s->stmt[i] = t1 - t0;
}

/* nearest rank, as notify_latency.c; v must be sorted */
static void
series_print(Series *s)
{
	qsort(s->commit, s->n, sizeof(double), cmp_double);
	qsort(s->send, s->n, sizeof(double), cmp_double);
	qsort(s->stmt, s->n, sizeof(double), cmp_double);
	printf("RESULT %s %d %.3f %.3f %.3f %.3f %.3f %.3f %.3f %.3f\n",
		   s->name, s->n,
		   pct(s->commit, s->n, 0.50), pct(s->commit, s->n, 0.95),
		   pct(s->commit, s->n, 0.99), s->commit[s->n - 1],
		   pct(s->send, s->n, 0.50), pct(s->send, s->n, 0.99),
		   pct(s->stmt, s->n, 0.50), pct(s->stmt, s->n, 0.99));
}

static int seq = 0;

/*
 * One sample; i < 0: warm-up.  Fills the series given (NULL: not
 * recorded).
 */
static void
sample(PGconn *pub, Listener *ls, int broadcast, int i,
	   Series *here, Series *remote, Series *outbox)
{
	char		text[64];
	const char *params[1] = {text};
	PGresult   *r;
	double		t0,
				t1,
				te = 0;

	snprintf(text, sizeof(text), "{\"seq\": %d}", ++seq);
	drain(ls[0].conn, ls[0].name);
	drain(ls[1].conn, ls[1].name);
	ls[0].expect = 1;
	ls[1].expect = broadcast;

	t0 = now_ms();
	r = PQexecParams(pub, broadcast ? BC_SQL : LOCAL_SQL, 1, NULL, params, NULL, NULL, 0);
	t1 = now_ms();
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", broadcast ? BC_SQL : LOCAL_SQL, PQerrorMessage(pub));
	PQclear(r);
	wait_all(ls, 2, text);

	if (broadcast)
	{
		/* until the relay has delivered it to every other member */
		for (;;)
		{
			long		n = outbox_rows(pub);

			te = now_ms();
			if (n == 0)
				break;
			if (te - t1 > WAIT_MS)
				die("the publisher's foundation.outbox still has %ld row(s) %d ms after a broadcast",
					n, WAIT_MS);
			sleep_ms(1);
		}
	}
	else
	{
		long		n = outbox_rows(pub);

		if (n != 0)
			die("foundation.outbox has %ld row(s) after a local_broadcast", n);
	}
	if (i < 0)
		return;
	series_add(here, i, t0, t1, ls[0].at);
	if (broadcast)
	{
		series_add(remote, i, t0, t1, ls[1].at);
		series_add(outbox, i, t0, t1, te);
	}
}

int
main(int argc, char **argv)
{
	const char *pub_ci = NULL;
	const char *here_ci = NULL;
	const char *remote_ci = NULL;
	int			n = 500;
	int			warmup = 10;
	PGconn	   *pub;
	Listener	ls[2];
	Series		local_here,
				bc_here,
				bc_remote,
				bc_outbox;
	int			i;

	for (i = 1; i < argc; i++)
	{
		if (i + 1 >= argc)
			die("option %s needs a value", argv[i]);
		if (strcmp(argv[i], "--publisher") == 0)
			pub_ci = argv[++i];
		else if (strcmp(argv[i], "--here") == 0)
			here_ci = argv[++i];
		else if (strcmp(argv[i], "--remote") == 0)
			remote_ci = argv[++i];
		else if (strcmp(argv[i], "--samples") == 0)
			n = count_arg(argv[++i]);
		else if (strcmp(argv[i], "--warmup") == 0)
			warmup = count_arg(argv[++i]);
		else
			die("unknown option %s", argv[i]);
	}
	if (pub_ci == NULL || here_ci == NULL || remote_ci == NULL)
		die("usage: relay_latency --publisher CONNINFO --here CONNINFO --remote CONNINFO [--samples N] [--warmup N]");

	pub = connect_db(pub_ci, "publisher");
	ls[0] = (Listener) {.name = "here", .conn = connect_db(here_ci, "here")};
	ls[1] = (Listener) {.name = "remote", .conn = connect_db(remote_ci, "remote")};
	exec_ok(ls[0].conn, "LISTEN \"" TOPIC "\"");
	exec_ok(ls[1].conn, "LISTEN \"" TOPIC "\"");
	if (outbox_rows(pub) != 0)
		die("the publisher's foundation.outbox is not empty at the start");

	series_init(&local_here, "local_here", n);
	series_init(&bc_here, "bc_here", n);
	series_init(&bc_remote, "bc_remote", n);
	series_init(&bc_outbox, "bc_outbox", n);

	for (i = 0; i < warmup; i++)
	{
		sample(pub, ls, 0, -1, NULL, NULL, NULL);
		sample(pub, ls, 1, -1, NULL, NULL, NULL);
	}
	for (i = 0; i < n; i++)
	{
		sample(pub, ls, 0, i, &local_here, NULL, NULL);
		sample(pub, ls, 1, i, &bc_here, &bc_remote, &bc_outbox);
	}
	/* a late or doubled delivery would show now */
	sleep_ms(500);
	drain(ls[0].conn, ls[0].name);
	drain(ls[1].conn, ls[1].name);

	series_print(&local_here);
	series_print(&bc_here);
	series_print(&bc_remote);
	series_print(&bc_outbox);
	PQfinish(pub);
	PQfinish(ls[0].conn);
	PQfinish(ls[1].conn);
	return 0;
}
