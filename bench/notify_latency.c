/*
 * notify_latency.c -- end-to-end latency of foundation.broadcast, from the
 * sending client to a libpq listener that has decoded the message back to
 * its original text.  Part of bench/run (benchmark 6); see
 * docs/benchmarks.md.
 *
 *   notify_latency --write-messages DIR
 *       writes the benchmark messages (jsonb text form, no newline) to
 *       DIR/repetitive_8k.json (7999 bytes), DIR/repetitive_50k.json
 *       (51200 bytes) and DIR/random_1m.json (1048576 bytes), and exits.
 *
 *   notify_latency --plain TEXT [--samples-plain N] [--samples-compressed N]
 *                  [--samples-stored N] [--warmup N]
 *       connects twice (libpq defaults: PGHOST, PGPORT, ...), a sender and
 *       a listener (LISTEN "foundation:events"), and measures, per sample:
 *         t0  just before the sender sends its autocommit statement
 *         t1  when PQexecParams returned (the commit is done)
 *         tr  when the listener got the notification (PQnotifies)
 *         t2  when the listener has decoded it to the original text:
 *             plain -> the payload itself; compressed -> base64 decode +
 *             zlib inflate; by reference -> SELECT message FROM
 *             foundation.messages WHERE id = $1 over the listener's
 *             connection.  The decoded text is compared with the sent one.
 *       Kinds, sample order raw/plain alternating, then compressed, then
 *       stored:
 *         raw         SELECT pg_notify('foundation:events', $1)  [TEXT]
 *         plain       SELECT foundation.broadcast('events', $1::jsonb) [TEXT]
 *         compressed  the same with the 50 KB repetitive message
 *         stored      the same with the 1 MB non-repetitive message
 *       and prints one line per kind:
 *         RESULT kind n text_bytes payload_bytes send_p50 send_p99
 *                commit_p50 commit_p99 decode_p50 decode_p99
 *       (ms; send = t2 - t0, commit = t2 - t1, decode = t2 - tr;
 *       percentiles by nearest rank).
 *
 * The messages are written in jsonb's own output form, so that
 * message::jsonb::text is the message itself (checked at start-up).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <zlib.h>

#define BENCH_NAME "notify_latency"
#include "bench_util.h"

#define TOPIC "foundation:events"
#define PREFIX_COMPRESSED "{\"foundation_compressed\": \""
#define PREFIX_REF "{\"foundation_ref\": "
#define WAIT_MS 30000
#define RAW_SQL "SELECT pg_notify('" TOPIC "', $1)"
#define FDN_SQL "SELECT foundation.broadcast('events', $1::jsonb)"

/* ---------- the messages ---------- */

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_append(Buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 1024;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
			die("out of memory");
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static char
rng_alnum(void)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return alphabet[((rng_state * 0x2545F4914F6CDD1DULL) >> 33) % 62];
}

static void
random_chars(char *s, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		s[i] = rng_alnum();
	s[n] = '\0';
}

/*
 * {"pad": "<pad>", "<key>": [rec, rec, ...]} of exactly target bytes, in
 * jsonb's output form (keys ordered by length, then bytes; ", " and ": ").
 * random: records of random letters and digits (compress poorly);
 * otherwise identical sensor readings but for their id (compress well).
 */
static char *
make_message(size_t target, int random)
{
	const char *key = random ? "records" : "readings";
	Buf			arr = {0};
	Buf			msg = {0};
	char		head[64];
	char		rec[256];
	size_t		overhead;
	size_t		padlen;
	char	   *pad;
	int			id;

	snprintf(head, sizeof(head), "{\"pad\": \"\", \"%s\": [", key);
	overhead = strlen(head) + strlen("]}");
	for (id = 1;; id++)
	{
		if (random)
		{
			char		k[17];
			char		d[101];

			random_chars(k, 16);
			random_chars(d, 100);
			snprintf(rec, sizeof(rec),
					 "{\"id\": %d, \"key\": \"%s\", \"data\": \"%s\"}", id, k, d);
		}
		else
			snprintf(rec, sizeof(rec),
					 "{\"id\": %d, \"unit\": \"celsius\", \"value\": 21.5, "
					 "\"sensor\": \"temperature-probe-01\", \"status\": \"ok\"}", id);
		if (overhead + arr.len + (id > 1 ? 2 : 0) + strlen(rec) > target)
			break;
		if (id > 1)
			buf_append(&arr, ", ", 2);
		buf_append(&arr, rec, strlen(rec));
	}
	padlen = target - overhead - arr.len;
	pad = xmalloc(padlen + 1);
	if (random)
		random_chars(pad, padlen);
	else
	{
		memset(pad, 'x', padlen);
		pad[padlen] = '\0';
	}
	buf_append(&msg, "{\"pad\": \"", 9);
	buf_append(&msg, pad, padlen);
	buf_append(&msg, "\", \"", 4);
	buf_append(&msg, key, strlen(key));
	buf_append(&msg, "\": [", 4);
	buf_append(&msg, arr.data, arr.len);
	buf_append(&msg, "]}", 2);
	if (msg.len != target)
		die("internal error: message of %zu bytes, wanted %zu", msg.len, target);
	free(pad);
	free(arr.data);
	return msg.data;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fwrite(text, 1, strlen(text), f) != strlen(text) ||
		fclose(f) != 0)
		die("could not write %s: %s", path, strerror(errno));
}

/* ---------- decoding ---------- */

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard, padded base64; returns the decoded length. */
static size_t
b64_decode(const char *s, size_t n, unsigned char *out)
{
	size_t		i;
	size_t		o = 0;

	if (n % 4 != 0)
		die("base64 text of %zu characters", n);
	for (i = 0; i < n; i += 4)
	{
		int			a = b64_value(s[i]);
		int			b = b64_value(s[i + 1]);
		int			c = s[i + 2] == '=' ? 0 : b64_value(s[i + 2]);
		int			d = s[i + 3] == '=' ? 0 : b64_value(s[i + 3]);
		uint32_t	v;

		if (a < 0 || b < 0 || c < 0 || d < 0)
			die("invalid base64 at offset %zu", i);
		v = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) c << 6 | (uint32_t) d;
		out[o++] = v >> 16;
		if (s[i + 2] != '=')
			out[o++] = (v >> 8) & 0xff;
		if (s[i + 3] != '=')
			out[o++] = v & 0xff;
	}
	return o;
}

/* zlib stream -> text (NUL-terminated, *len bytes), buffer grows as needed */
static char *
inflate_all(const unsigned char *zip, size_t ziplen, size_t *len)
{
	z_stream	zs;
	size_t		cap = ziplen * 4 + 1024;
	char	   *out = xmalloc(cap);
	int			rc;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		die("inflateInit failed");
	zs.next_in = (unsigned char *) zip;
	zs.avail_in = ziplen;
	do
	{
		if (zs.total_out + 1 >= cap)
		{
			cap *= 2;
			out = realloc(out, cap);
			if (out == NULL)
				die("out of memory");
		}
		zs.next_out = (unsigned char *) out + zs.total_out;
		zs.avail_out = cap - zs.total_out - 1;
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END)
			die("inflate failed: %d", rc);
	} while (rc != Z_STREAM_END);
	*len = zs.total_out;
	out[*len] = '\0';
	inflateEnd(&zs);
	return out;
}

/*
 * The payload back to the message text.  *owned is set when the result
 * must be freed (with PQclear for *res, free() otherwise).
 */
static const char *
decode(PGconn *listener, const char *payload, size_t *len, char **owned,
	   PGresult **res)
{
	*owned = NULL;
	*res = NULL;
	if (strncmp(payload, PREFIX_COMPRESSED, strlen(PREFIX_COMPRESSED)) == 0)
	{
		const char *b64 = payload + strlen(PREFIX_COMPRESSED);
		const char *end = strchr(b64, '"');
		unsigned char *zip;
		size_t		ziplen;

		if (end == NULL || strcmp(end, "\"}") != 0)
			die("malformed compressed payload");
		zip = xmalloc((end - b64) / 4 * 3 + 3);
		ziplen = b64_decode(b64, end - b64, zip);
		*owned = inflate_all(zip, ziplen, len);
		free(zip);
		return *owned;
	}
	if (strncmp(payload, PREFIX_REF, strlen(PREFIX_REF)) == 0)
	{
		char		id[32];
		const char *params[1] = {id};
		long long	ref;
		long long	bytes;

		if (sscanf(payload, "{\"foundation_ref\": %lld, \"bytes\": %lld}", &ref, &bytes) != 2)
			die("malformed reference payload: %s", payload);
		snprintf(id, sizeof(id), "%lld", ref);
		*res = PQexecParams(listener,
							"SELECT message FROM foundation.messages WHERE id = $1",
							1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(*res) != PGRES_TUPLES_OK || PQntuples(*res) != 1)
			die("fetching stored message %s: %s", id, PQerrorMessage(listener));
		*len = PQgetlength(*res, 0, 0);
		if ((long long) *len != bytes)
			die("stored message %s has %zu bytes, its reference says %lld",
				id, *len, bytes);
		return PQgetvalue(*res, 0, 0);
	}
	*len = strlen(payload);
	return payload;
}

/* ---------- measuring ---------- */

typedef struct Kind
{
	const char *name;
	const char *sql;
	const char *text;
	int			n;
	double	   *send;			/* t2 - t0 */
	double	   *commit;			/* t2 - t1 */
	double	   *dec;			/* t2 - tr */
	size_t		payload_bytes;
} Kind;

static PGconn *
connect_db(void)
{
	PGconn	   *c = PQconnectdb("");

	if (PQstatus(c) != CONNECTION_OK)
		die("could not connect: %s", PQerrorMessage(c));
	return c;
}

static void
drain(PGconn *listener)
{
	PGnotify   *n;

	if (!PQconsumeInput(listener))
		die("listener: %s", PQerrorMessage(listener));
	while ((n = PQnotifies(listener)) != NULL)
		die("unexpected notification on %s from pid %d before a sample",
			n->relname, n->be_pid);
}

static PGnotify *
wait_notify(PGconn *listener)
{
	double		deadline = now_ms() + WAIT_MS;

	for (;;)
	{
		PGnotify   *n;
		struct pollfd p;
		double		left;

		if (!PQconsumeInput(listener))
			die("listener: %s", PQerrorMessage(listener));
		if ((n = PQnotifies(listener)) != NULL)
			return n;
		left = deadline - now_ms();
		if (left <= 0)
			die("no notification within %d ms", WAIT_MS);
		p.fd = PQsocket(listener);
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, (int) left + 1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
}

static void
sample(PGconn *sender, PGconn *listener, Kind *k, int i)
{
	const char *params[1] = {k->text};
	PGresult   *r;
	PGnotify   *n;
	double		t0,
				t1,
				tr,
				t2;
	const char *text;
	size_t		len;
	char	   *owned;
	PGresult   *res;

	drain(listener);
	t0 = now_ms();
	r = PQexecParams(sender, k->sql, 1, NULL, params, NULL, NULL, 0);
	t1 = now_ms();
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", k->sql, PQerrorMessage(sender));
	PQclear(r);
	n = wait_notify(listener);
	tr = now_ms();
	if (strcmp(n->relname, TOPIC) != 0 || n->be_pid != PQbackendPID(sender))
		die("notification on %s from pid %d, expected %s from %d",
			n->relname, n->be_pid, TOPIC, PQbackendPID(sender));
	text = decode(listener, n->extra, &len, &owned, &res);
	t2 = now_ms();

	if (len != strlen(k->text) || memcmp(text, k->text, len) != 0)
		die("%s: the decoded message (%zu bytes) differs from the sent one (%zu bytes)",
			k->name, len, strlen(k->text));
	k->payload_bytes = strlen(n->extra);
	if (i >= 0)
	{
		k->send[i] = t2 - t0;
		k->commit[i] = t2 - t1;
		k->dec[i] = t2 - tr;
	}
	free(owned);
	PQclear(res);
	PQfreemem(n);
}

static double
percentile(double *v, int n, double p)
{
	qsort(v, n, sizeof(double), cmp_double);
	return pct(v, n, p);
}

static void
check_canonical(PGconn *c, const char *text, const char *what)
{
	const char *params[1] = {text};
	const Oid	types[1] = {25};	/* text: else $1 would be typed jsonb */
	PGresult   *r = PQexecParams(c, "SELECT $1::jsonb::text = $1", 1, types,
								 params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("checking the %s message: %s", what, PQerrorMessage(c));
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
		die("the %s message is not in jsonb's output form", what);
	PQclear(r);
}

int
main(int argc, char **argv)
{
	const char *plain = NULL;
	const char *outdir = NULL;
	int			n_plain = 200,
				n_comp = 100,
				n_stored = 50,
				warmup = 5;
	char	   *rep50k;
	char	   *rand1m;
	PGconn	   *sender;
	PGconn	   *listener;
	Kind		kinds[4];
	int			i,
				k;

	for (i = 1; i < argc; i++)
	{
		if (i + 1 >= argc)
			die("option %s needs a value", argv[i]);
		if (strcmp(argv[i], "--plain") == 0)
			plain = argv[++i];
		else if (strcmp(argv[i], "--write-messages") == 0)
			outdir = argv[++i];
		else if (strcmp(argv[i], "--samples-plain") == 0)
			n_plain = count_arg(argv[++i]);
		else if (strcmp(argv[i], "--samples-compressed") == 0)
			n_comp = count_arg(argv[++i]);
		else if (strcmp(argv[i], "--samples-stored") == 0)
			n_stored = count_arg(argv[++i]);
		else if (strcmp(argv[i], "--warmup") == 0)
			warmup = count_arg(argv[++i]);
		else
			die("unknown option %s", argv[i]);
	}

	rep50k = make_message(51200, 0);
	rand1m = make_message(1048576, 1);
	if (outdir != NULL)
	{
		char	   *rep8k = make_message(7999, 0);

		write_file(outdir, "repetitive_8k.json", rep8k);
		write_file(outdir, "repetitive_50k.json", rep50k);
		write_file(outdir, "random_1m.json", rand1m);
		free(rep8k);
		free(rep50k);
		free(rand1m);
		return 0;
	}
	if (plain == NULL)
		die("usage: notify_latency --plain TEXT [...] | --write-messages DIR");

	sender = connect_db();
	listener = connect_db();
	check_canonical(sender, plain, "plain");
	check_canonical(sender, rep50k, "50 KB");
	check_canonical(sender, rand1m, "1 MB");
	exec_ok(listener, "LISTEN \"" TOPIC "\"");

	memset(kinds, 0, sizeof(kinds));
	kinds[0] = (Kind) {.name = "raw", .sql = RAW_SQL, .text = plain, .n = n_plain};
	kinds[1] = (Kind) {.name = "plain", .sql = FDN_SQL, .text = plain, .n = n_plain};
	kinds[2] = (Kind) {.name = "compressed", .sql = FDN_SQL, .text = rep50k, .n = n_comp};
	kinds[3] = (Kind) {.name = "stored", .sql = FDN_SQL, .text = rand1m, .n = n_stored};
	for (k = 0; k < 4; k++)
	{
		kinds[k].send = xmalloc(sizeof(double) * kinds[k].n);
		kinds[k].commit = xmalloc(sizeof(double) * kinds[k].n);
		kinds[k].dec = xmalloc(sizeof(double) * kinds[k].n);
	}

	/* warm-up, not measured */
	for (k = 0; k < 4; k++)
		for (i = 0; i < warmup; i++)
			sample(sender, listener, &kinds[k], -1);
	/* raw and plain alternate, then compressed, then stored */
	for (i = 0; i < n_plain; i++)
	{
		sample(sender, listener, &kinds[0], i);
		sample(sender, listener, &kinds[1], i);
	}
	for (i = 0; i < n_comp; i++)
		sample(sender, listener, &kinds[2], i);
	for (i = 0; i < n_stored; i++)
		sample(sender, listener, &kinds[3], i);

	for (k = 0; k < 4; k++)
	{
		Kind	   *kd = &kinds[k];

		printf("RESULT %s %d %zu %zu %.3f %.3f %.3f %.3f %.3f %.3f\n",
			   kd->name, kd->n, strlen(kd->text), kd->payload_bytes,
			   percentile(kd->send, kd->n, 0.50), percentile(kd->send, kd->n, 0.99),
			   percentile(kd->commit, kd->n, 0.50), percentile(kd->commit, kd->n, 0.99),
			   percentile(kd->dec, kd->n, 0.50), percentile(kd->dec, kd->n, 0.99));
		free(kd->send);
		free(kd->commit);
		free(kd->dec);
	}
	PQfinish(sender);
	PQfinish(listener);
	free(rep50k);
	free(rand1m);
	return 0;
}
