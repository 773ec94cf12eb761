/*
 * bench_util.h -- what the benchmark clients (notify_latency.c, connect3.c,
 * relay_latency.c) share: failing loudly, the monotonic clock, simple
 * statements and percentiles.  Define BENCH_NAME before including it.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libpq-fe.h>

static inline void
die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, BENCH_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static inline void *
xmalloc(size_t n)
{
	void	   *p = malloc(n);

	if (p == NULL)
		die("out of memory");
	return p;
}

static inline double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Run a statement that must succeed; its result is not needed. */
static inline void
exec_ok(PGconn *c, const char *sql)
{
	PGresult   *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static inline int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* The p-quantile of n sorted values, by nearest rank. */
static inline double
pct(const double *v, int n, double p)
{
	int			rank = (int) (p * n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* A count argument: a whole number from 1 to 1 000 000. */
static inline int
count_arg(const char *s)
{
	char	   *end;
	long		v = strtol(s, &end, 10);

	if (*end != '\0' || v < 1 || v > 1000000)
		die("bad count: %s", s);
	return (int) v;
}

#endif							/* BENCH_UTIL_H */
