/*
 * listener.c -- a plain libpq client that receives foundation channel
 * messages the way any application would, to test the wire forms from the
 * outside (test/t/006_channels.pl compiles and runs it).
 *
 * Usage: listener "<conninfo>" <count> <timeout_s> <channel> [<channel>...]
 *
 * Connects, LISTENs to the given channels (e.g. foundation:events), prints
 * READY, then waits for <count> notifications, at most <timeout_s> seconds
 * in all.  Each payload is decoded here, with nothing but zlib and a base64
 * decoder of its own:
 *   {"foundation_compressed": "<base64>"}   -> inflate(base64 decode)
 *   {"foundation_ref": N, "bytes": M}       -> SELECT message::text
 *                                              FROM foundation.messages
 *                                              WHERE id = N
 *   anything else                           -> the payload itself
 * and printed as one line:
 *   <channel>\t<plain|compressed|stored>\t<decoded length>\t<decoded text>
 * (a jsonb text never contains a raw tab or newline).
 *
 * Exit status: 0 when <count> notifications arrived, 1 on timeout (after
 * printing what arrived), 2 on any error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>
#include <zlib.h>

#define ENV_COMPRESSED "{\"foundation_compressed\": \""
#define ENV_REF "{\"foundation_ref\": "
#define ENV_BYTES ", \"bytes\": "

static PGconn *conn;

static void die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "listener: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stdout);
	if (conn)
		PQfinish(conn);
	exit(2);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------- base64 (RFC 4648, standard alphabet, padded) ---------- */

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

/* Decode len chars of src into a new buffer; -1 if not valid base64. */
static long
b64_decode(const char *src, size_t len, unsigned char **out)
{
	unsigned char *buf;
	size_t		i;
	long		n = 0;
	size_t		pad = 0;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && src[len - 1] == '=')
		pad++;
	if (len > 1 && src[len - 2] == '=')
		pad++;
	buf = malloc(len / 4 * 3 + 1);
	if (buf == NULL)
		die("out of memory");
	for (i = 0; i < len; i += 4)
	{
		int			v[4];
		int			k;
		int			last = (i + 4 == len);

		for (k = 0; k < 4; k++)
		{
			if (last && src[i + k] == '=' && k >= 4 - (int) pad)
				v[k] = 0;
			else if ((v[k] = b64_value((unsigned char) src[i + k])) < 0)
			{
				free(buf);
				return -1;
			}
		}
		buf[n++] = (unsigned char) ((v[0] << 2) | (v[1] >> 4));
		if (!(last && pad >= 2))
			buf[n++] = (unsigned char) (((v[1] & 0xf) << 4) | (v[2] >> 2));
		if (!(last && pad >= 1))
			buf[n++] = (unsigned char) (((v[2] & 0x3) << 6) | v[3]);
	}
	*out = buf;
	return n;
}

/* ---------- zlib (RFC 1950) of unknown decompressed size ---------- */

static char *
inflate_all(const unsigned char *zip, size_t ziplen, size_t *outlen)
{
	z_stream	zs;
	size_t		cap = ziplen * 4 + 1024;
	char	   *out = malloc(cap);
	int			rc;

	if (out == NULL)
		die("out of memory");
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		die("inflateInit failed");
	zs.next_in = (unsigned char *) zip;
	zs.avail_in = (uInt) ziplen;
	for (;;)
	{
		if (zs.total_out + 1 >= cap)
		{
			cap *= 2;
			out = realloc(out, cap);
			if (out == NULL)
				die("out of memory");
		}
		zs.next_out = (unsigned char *) out + zs.total_out;
		zs.avail_out = (uInt) (cap - 1 - zs.total_out);
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs.avail_out == 0))
			die("payload is not a valid zlib stream (%s)",
				zs.msg ? zs.msg : "truncated");
		if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out > 0)
			die("payload is a truncated zlib stream");
	}
	if (zs.avail_in != 0)
		die("trailing bytes after the zlib stream");
	*outlen = zs.total_out;
	out[*outlen] = '\0';
	inflateEnd(&zs);
	return out;
}

/* ---------- the envelope ---------- */

static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Parse digits at *p; advance *p; -1 if none. */
static long long
parse_number(const char **p)
{
	long long	v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	*p = s;
	return v;
}

/* Is payload exactly {"foundation_compressed": "<base64 chars>"}? */
static int
is_compressed(const char *payload, const char **b64, size_t *b64len)
{
	size_t		len = strlen(payload);
	size_t		pre = strlen(ENV_COMPRESSED);
	size_t		i;

	if (!starts_with(payload, ENV_COMPRESSED) || len < pre + 2 ||
		strcmp(payload + len - 2, "\"}") != 0)
		return 0;
	for (i = pre; i < len - 2; i++)
		if (b64_value((unsigned char) payload[i]) < 0 && payload[i] != '=')
			return 0;
	*b64 = payload + pre;
	*b64len = len - 2 - pre;
	return 1;
}

/* Is payload exactly {"foundation_ref": N, "bytes": M}? */
static int
is_ref(const char *payload, long long *id, long long *bytes)
{
	const char *p = payload;

	if (!starts_with(p, ENV_REF))
		return 0;
	p += strlen(ENV_REF);
	if ((*id = parse_number(&p)) < 0)
		return 0;
	if (!starts_with(p, ENV_BYTES))
		return 0;
	p += strlen(ENV_BYTES);
	if ((*bytes = parse_number(&p)) < 0)
		return 0;
	return strcmp(p, "}") == 0;
}

static char *
fetch_stored(long long id, size_t *outlen)
{
	char		idtext[32];
	const char *params[1] = {idtext};
	PGresult   *res;
	char	   *text;

	snprintf(idtext, sizeof(idtext), "%lld", id);
	res = PQexecParams(conn,
					   "SELECT message::text FROM foundation.messages WHERE id = $1",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die("fetching a stored message failed: %s", PQerrorMessage(conn));
	if (PQntuples(res) != 1)
		die("stored message %s does not exist", idtext);
	*outlen = (size_t) PQgetlength(res, 0, 0);
	text = malloc(*outlen + 1);
	if (text == NULL)
		die("out of memory");
	memcpy(text, PQgetvalue(res, 0, 0), *outlen + 1);
	PQclear(res);
	return text;
}

static void
handle(const PGnotify *n)
{
	const char *payload = n->extra;
	const char *form;
	const char *b64;
	size_t		b64len;
	long long	id;
	long long	bytes;
	char	   *text;
	size_t		len;

	if (is_compressed(payload, &b64, &b64len))
	{
		unsigned char *zip;
		long		ziplen = b64_decode(b64, b64len, &zip);

		if (ziplen < 0)
			die("invalid base64 in a compressed payload: %.200s", payload);
		text = inflate_all(zip, (size_t) ziplen, &len);
		free(zip);
		form = "compressed";
	}
	else if (is_ref(payload, &id, &bytes))
	{
		text = fetch_stored(id, &len);
		if ((long long) len != bytes)
			die("stored message %lld: %zu bytes, the envelope says %lld",
				id, len, bytes);
		form = "stored";
	}
	else
	{
		len = strlen(payload);
		text = malloc(len + 1);
		if (text == NULL)
			die("out of memory");
		memcpy(text, payload, len + 1);
		form = "plain";
	}
	printf("%s\t%s\t%zu\t", n->relname, form, len);
	if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF ||
		fflush(stdout) != 0)
		die("could not write to stdout: %s", strerror(errno));
	free(text);
}

int
main(int argc, char **argv)
{
	long		count;
	double		timeout;
	double		deadline;
	long		got = 0;
	int			i;

	if (argc < 5)
	{
		fprintf(stderr, "usage: %s \"<conninfo>\" <count> <timeout_s> <channel> [<channel>...]\n",
				argv[0]);
		return 2;
	}
	count = strtol(argv[2], NULL, 10);
	timeout = strtod(argv[3], NULL);
	if (count < 0 || timeout <= 0)
		die("bad count or timeout");

	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
		die("could not connect: %s", PQerrorMessage(conn));
	for (i = 4; i < argc; i++)
	{
		char	   *ident = PQescapeIdentifier(conn, argv[i], strlen(argv[i]));
		char	   *sql;
		PGresult   *res;

		if (ident == NULL)
			die("could not quote a channel name: %s", PQerrorMessage(conn));
		sql = malloc(strlen(ident) + 8);
		if (sql == NULL)
			die("out of memory");
		sprintf(sql, "LISTEN %s", ident);
		res = PQexec(conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("LISTEN failed: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfreemem(ident);
		free(sql);
	}
	printf("READY\n");
	fflush(stdout);

	deadline = now_s() + timeout;
	while (got < count)
	{
		PGnotify   *n;
		int			sock = PQsocket(conn);
		fd_set		rfds;
		struct timeval tv;
		double		left;
		int			rc;

		if (!PQconsumeInput(conn))
			die("connection lost: %s", PQerrorMessage(conn));
		while (got < count && (n = PQnotifies(conn)) != NULL)
		{
			handle(n);
			PQfreemem(n);
			got++;
		}
		if (got >= count)
			break;

		left = deadline - now_s();
		if (left <= 0)
		{
			fprintf(stderr, "listener: timeout after %.1f s: %ld of %ld notifications\n",
					timeout, got, count);
			PQfinish(conn);
			return 1;
		}
		if (sock < 0)
			die("no socket");
		FD_ZERO(&rfds);
		FD_SET(sock, &rfds);
		tv.tv_sec = (long) left;
		tv.tv_usec = (long) ((left - (long) left) * 1e6);
		rc = select(sock + 1, &rfds, NULL, NULL, &tv);
		if (rc < 0 && errno != EINTR)
			die("select failed: %s", strerror(errno));
	}
	PQfinish(conn);
	return 0;
}
