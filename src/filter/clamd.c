/* clamd: address and reply parsing, and one INSTREAM (or PING) exchange
 * with clamd on a libuv loop (see clamd.h for the syntax and the rules).
 * A scan owns its socket handle (a pipe or a TCP handle), one connect
 * request, at most one write request in flight (a chunk header and a
 * slice of the caller's data, never a copy), a bounded reply buffer and
 * the timer that bounds the whole exchange. The result is delivered after
 * both handles are closing, so nothing reads the caller's data once the
 * callback runs; the memory goes when the last close callback has run,
 * which is after libuv has cancelled any request still pending. */
#include "clamd.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

#define CMD_INSTREAM "zINSTREAM"	/* sent with its NUL */
#define CMD_PING "zPING"
#define REPLY_PONG "PONG"
#define STREAM_PREFIX "stream: "
#define SUFFIX_FOUND " FOUND"
#define SUFFIX_ERROR " ERROR"
#define CHUNK_HDR_LEN 4			/* big-endian length */
#define TEXT_MAX 512			/* a reason before sanitizing */

enum send_phase {
	SEND_CMD = 0,
	SEND_DATA,
	SEND_END,			/* the zero-length chunk */
	SEND_DONE,
};

struct clamd_scan {
	uv_loop_t		*loop;
	clamd_cb		*cb;
	void			*ctx;
	bool			 ping;
	bool			 finished;	/* delivered or cancelled */
	bool			 res_ready;	/* failed before any I/O */
	bool			 stream_open;	/* the socket handle exists */
	bool			 writing;	/* wreq in flight */
	bool			 write_failed;
	int			 open_handles;
	union {
		uv_pipe_t	 pipe;
		uv_tcp_t	 tcp;
	} h;
	uv_stream_t		*stream;
	uv_timer_t		 timer;
	uv_connect_t		 creq;
	uv_write_t		 wreq;
	enum send_phase		 phase;
	const uint8_t		*data;
	size_t			 len;
	size_t			 off;		/* octets of data sent */
	size_t			 inflight;	/* data octets in wreq */
	uint8_t			 hdr[CHUNK_HDR_LEN];
	struct clamd_limits	 lim;
	struct clamd_addr	 addr;
	char			 reply[CLAMD_REPLY_MAX];
	size_t			 rlen;
	struct clamd_result	 res;
};

/* ---- parsing ------------------------------------------------------------ */

void
clamd_limits_default(struct clamd_limits *lim)
{
	lim->timeout_ms = CLAMD_TIMEOUT_DEFAULT_MS;
	lim->stream_max = CLAMD_STREAM_MAX_DEFAULT;
	lim->chunk = CLAMD_CHUNK_DEFAULT;
}

const char *
clamd_error_name(enum clamd_error e)
{
	switch (e) {
	case CLAMD_ERR_NONE:
		return "none";
	case CLAMD_ERR_ADDRESS:
		return "address";
	case CLAMD_ERR_CONNECT:
		return "connect";
	case CLAMD_ERR_TIMEOUT:
		return "timeout";
	case CLAMD_ERR_SIZE:
		return "size";
	case CLAMD_ERR_PROTOCOL:
		return "protocol";
	case CLAMD_ERR_SERVER:
		return "server";
	case CLAMD_ERR_IO:
		return "io";
	}
	return "unknown";
}

/* The octets kept from clamd's text: enough for signature names
 * ("Win.Test.EICAR_HDB-1", "Heuristics.Phishing.Email.SpoofedDomain",
 * "Moat.Test.Custom.UNOFFICIAL") and short messages, nothing that could
 * end a header, a reply line or a log field. */
static bool
is_safe(char c, bool space)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (c == ' ')
		return space;
	return c != '\0' && strchr("._-:/+!#@=(),[]", c) != NULL;
}

/* Copy s[0..len) into dst (size dstlen > 0), unsafe octets as '_',
 * truncated to fit. */
static void
keep(char *dst, size_t dstlen, const char *s, size_t len, bool space)
{
	size_t i;

	if (len > dstlen - 1)
		len = dstlen - 1;
	for (i = 0; i < len; i++)
		dst[i] = is_safe(s[i], space) ? s[i] : '_';
	dst[len] = '\0';
}

static void
set_error(struct clamd_result *r, enum clamd_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_error(struct clamd_result *r, enum clamd_error e, const char *fmt, ...)
{
	char text[TEXT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;	/* truncated: fine for text */
	memset(r, 0, sizeof(*r));
	r->status = CLAMD_ERROR;
	r->error = e;
	keep(r->reason, sizeof(r->reason), text, (size_t)n, true);
}

static bool
has_suffix(const char *s, size_t len, const char *suf)
{
	size_t n = strlen(suf);

	return len >= n && memcmp(s + len - n, suf, n) == 0;
}

static bool
contains(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(s + i, needle, n) == 0)
			return true;
	return false;
}

static int
protocol_error(struct clamd_result *r, const char *why, const char *s,
    size_t len)
{
	char esc[LOG_ESC_MAX];

	set_error(r, CLAMD_ERR_PROTOCOL, "%s: %s", why,
	    log_escape(esc, sizeof(esc), s, len));
	return -1;
}

/*
 * reply  = [ "stream: " ] body [ NUL / LF ]
 * body   = "OK" / name " FOUND" / text " ERROR"	; "OK", FOUND only
 *						; after "stream: "
 * name   = 1*(any octet but NUL, LF)
 */
int
clamd_reply_parse(const void *p, size_t len, struct clamd_result *r)
{
	const char *s = p;
	size_t n, pre = strlen(STREAM_PREFIX);
	bool stream = false;

	memset(r, 0, sizeof(*r));
	if (len > 0 && (s[len - 1] == '\0' || s[len - 1] == '\n'))
		len--;
	if (len >= CLAMD_REPLY_MAX)
		return protocol_error(r, "reply too long", s, len);
	if (memchr(s, '\0', len) != NULL || memchr(s, '\n', len) != NULL)
		return protocol_error(r, "NUL or newline in reply", s, len);
	if (len >= pre && memcmp(s, STREAM_PREFIX, pre) == 0) {
		stream = true;
		s += pre;
		len -= pre;
	}
	if (stream && len == 2 && memcmp(s, "OK", 2) == 0) {
		r->status = CLAMD_CLEAN;
		return 0;
	}
	n = strlen(SUFFIX_FOUND);
	if (stream && has_suffix(s, len, SUFFIX_FOUND) && len > n) {
		r->status = CLAMD_INFECTED;
		keep(r->signature, sizeof(r->signature), s, len - n, false);
		return 0;
	}
	n = strlen(SUFFIX_ERROR);
	if (has_suffix(s, len, SUFFIX_ERROR) && len > n) {
		/* "INSTREAM size limit exceeded. ERROR" (clamd 0.9x-1.4) */
		if (contains(s, len - n, "size limit"))
			set_error(r, CLAMD_ERR_SIZE, "clamd: %.*s",
			    (int)(len - n), s);
		else
			set_error(r, CLAMD_ERR_SERVER, "clamd: %.*s",
			    (int)(len - n), s);
		return 0;
	}
	return protocol_error(r, "unexpected reply", s, len);
}

/*
 * address = "unix:" "/" path / "tcp:" host ":" port
 * host    = IPv4address / IPv6address / "[" IPv6address "]"
 * A bare IPv6 address splits at the last colon ("tcp:::1:3310").
 */
int
clamd_addr_parse(const char *s, struct clamd_addr *out, const char **error_r)
{
	const char *host, *port, *close;
	size_t hlen;
	uint64_t v;
	unsigned char bin[sizeof(struct in6_addr)];
	const char *err;

	memset(out, 0, sizeof(*out));
	if (strnlen(s, CLAMD_ADDR_MAX + 1) > CLAMD_ADDR_MAX) {
		*error_r = "clamd address too long";
		return -1;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		s += 5;
		if (s[0] != '/') {
			*error_r = "clamd socket path must be absolute";
			return -1;
		}
		if (strlen(s) > CLAMD_PATH_MAX) {
			*error_r = "clamd socket path too long";
			return -1;
		}
		out->kind = CLAMD_ADDR_UNIX;
		moat_strlcpy(out->path, s, sizeof(out->path));
		return 0;
	}
	if (strncmp(s, "tcp:", 4) != 0) {
		*error_r = "expected unix:/PATH or tcp:HOST:PORT";
		return -1;
	}
	s += 4;
	if (s[0] == '[') {
		host = s + 1;
		close = strchr(host, ']');
		if (close == NULL || close[1] != ':') {
			*error_r = "expected tcp:[IPV6]:PORT";
			return -1;
		}
		hlen = (size_t)(close - host);
		port = close + 2;
	} else {
		host = s;
		port = strrchr(s, ':');
		if (port == NULL) {
			*error_r = "expected tcp:HOST:PORT";
			return -1;
		}
		hlen = (size_t)(port - host);
		port++;
	}
	if (hlen == 0 || hlen >= sizeof(out->host)) {
		*error_r = "clamd host must be a numeric IPv4 or IPv6 address";
		return -1;
	}
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if ((s[0] == '[' || inet_pton(AF_INET, out->host, bin) != 1) &&
	    inet_pton(AF_INET6, out->host, bin) != 1) {
		*error_r = "clamd host must be a numeric IPv4 or IPv6 address";
		return -1;
	}
	if (parse_u64(port, 1, 65535, &v, &err) < 0) {
		*error_r = "clamd port must be a number from 1 to 65535";
		return -1;
	}
	out->kind = CLAMD_ADDR_TCP;
	out->port = (uint16_t)v;
	return 0;
}

const char *
clamd_addr_format(const struct clamd_addr *a, char *buf, size_t len)
{
	int n;

	if (a->kind == CLAMD_ADDR_UNIX)
		n = snprintf(buf, len, "unix:%s", a->path);
	else if (strchr(a->host, ':') != NULL)
		n = snprintf(buf, len, "tcp:[%s]:%u", a->host,
		    (unsigned)a->port);
	else
		n = snprintf(buf, len, "tcp:%s:%u", a->host,
		    (unsigned)a->port);
	if (n < 0 && len > 0)
		buf[0] = '\0';
	return buf;		/* truncated text is fine in messages */
}

/* ---- the exchange ------------------------------------------------------- */

static void
on_close(uv_handle_t *h)
{
	struct clamd_scan *sc = h->data;

	if (--sc->open_handles == 0)
		free(sc);
}

/* Close both handles: the fd goes now, so no write touches the caller's
 * data after this; requests still pending are cancelled by libuv before
 * the close callbacks, which free the scan. */
static void
release(struct clamd_scan *sc)
{
	sc->finished = true;
	(void)uv_timer_stop(&sc->timer);
	uv_close((uv_handle_t *)&sc->timer, on_close);
	if (sc->stream_open &&
	    !uv_is_closing((uv_handle_t *)sc->stream))
		uv_close((uv_handle_t *)sc->stream, on_close);
}

static void
deliver(struct clamd_scan *sc)
{
	if (sc->finished)
		return;
	release(sc);
	/* sc stays allocated until the close callbacks, after this. */
	sc->cb(&sc->res, sc->ctx);
}

static void
fail(struct clamd_scan *sc, enum clamd_error e, const char *what, int uverr)
{
	char a[CLAMD_ADDR_MAX + 16];

	set_error(&sc->res, e, "%s %s: %s", what,
	    clamd_addr_format(&sc->addr, a, sizeof(a)), uv_strerror(uverr));
	deliver(sc);
}

static void
on_timer(uv_timer_t *t)
{
	struct clamd_scan *sc = t->data;

	if (!sc->res_ready)
		set_error(&sc->res, CLAMD_ERR_TIMEOUT,
		    "no answer from clamd within %u ms",
		    (unsigned)sc->lim.timeout_ms);
	deliver(sc);
}

static void on_write(uv_write_t *req, int status);

static void
be32(uint8_t out[CHUNK_HDR_LEN], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

/* Queue the next piece: the command, one chunk, or the terminator. One
 * write at a time, so libuv never holds more than a chunk of ours. */
static void
send_next(struct clamd_scan *sc)
{
	uv_buf_t b[2];
	unsigned nb = 0;
	size_t n;
	int rc;

	if (sc->finished || sc->writing || sc->write_failed ||
	    sc->phase == SEND_DONE)
		return;
	switch (sc->phase) {
	case SEND_CMD:
		/* The command with its NUL: "z" commands end in NUL. */
		if (sc->ping)
			b[nb++] = uv_buf_init((char *)CMD_PING,
			    sizeof(CMD_PING));
		else
			b[nb++] = uv_buf_init((char *)CMD_INSTREAM,
			    sizeof(CMD_INSTREAM));
		break;
	case SEND_DATA:
		n = sc->len - sc->off;
		if (n > sc->lim.chunk)
			n = sc->lim.chunk;
		be32(sc->hdr, (uint32_t)n);	/* chunk <= CLAMD_CHUNK_MAX */
		b[nb++] = uv_buf_init((char *)sc->hdr, CHUNK_HDR_LEN);
		/* UNSAFE: off + n <= len, checked above; libuv only reads. */
		b[nb++] = uv_buf_init((char *)(uintptr_t)(sc->data + sc->off),
		    (unsigned)n);
		sc->inflight = n;
		break;
	case SEND_END:
		be32(sc->hdr, 0);
		b[nb++] = uv_buf_init((char *)sc->hdr, CHUNK_HDR_LEN);
		break;
	case SEND_DONE:
		return;
	}
	sc->wreq.data = sc;
	rc = uv_write(&sc->wreq, sc->stream, b, nb, on_write);
	if (rc < 0) {
		fail(sc, CLAMD_ERR_IO, "write to", rc);
		return;
	}
	sc->writing = true;
}

static void
on_write(uv_write_t *req, int status)
{
	struct clamd_scan *sc = req->data;

	sc->writing = false;
	if (sc->finished)
		return;		/* UV_ECANCELED from release() */
	if (status < 0) {
		/* clamd may have answered and closed (its size limit): the
		 * read side tells, or the timer does. */
		sc->write_failed = true;
		return;
	}
	switch (sc->phase) {
	case SEND_CMD:
		sc->phase = sc->ping ? SEND_DONE :
		    sc->len > 0 ? SEND_DATA : SEND_END;
		break;
	case SEND_DATA:
		sc->off += sc->inflight;
		sc->inflight = 0;
		if (sc->off == sc->len)
			sc->phase = SEND_END;
		break;
	case SEND_END:
	case SEND_DONE:
		sc->phase = SEND_DONE;
		break;
	}
	send_next(sc);
}

/* A whole reply of n octets is in sc->reply. */
static void
reply_done(struct clamd_scan *sc, size_t n)
{
	size_t pong = strlen(REPLY_PONG);

	if (sc->ping) {
		if ((n == pong || (n == pong + 1 && (sc->reply[pong] == '\0' ||
		    sc->reply[pong] == '\n'))) &&
		    memcmp(sc->reply, REPLY_PONG, pong) == 0) {
			memset(&sc->res, 0, sizeof(sc->res));
			sc->res.status = CLAMD_CLEAN;
		} else
			(void)protocol_error(&sc->res, "expected PONG",
			    sc->reply, n);
		deliver(sc);
		return;
	}
	(void)clamd_reply_parse(sc->reply, n, &sc->res);
	/* A verdict on part of the message is no verdict. */
	if (sc->res.status != CLAMD_ERROR && sc->phase != SEND_DONE)
		(void)protocol_error(&sc->res,
		    "reply before the end of the stream", sc->reply, n);
	deliver(sc);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct clamd_scan *sc = h->data;

	(void)suggested;
	/* Never 0: a full buffer ends the exchange in on_read. */
	*buf = uv_buf_init(sc->reply + sc->rlen,
	    (unsigned)(sizeof(sc->reply) - sc->rlen));
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct clamd_scan *sc = st->data;
	const char *nul;

	(void)buf;
	if (sc->finished)
		return;
	if (nread == UV_EOF) {
		if (sc->rlen > 0)
			reply_done(sc, sc->rlen);
		else {
			set_error(&sc->res, CLAMD_ERR_PROTOCOL,
			    "clamd closed the connection without a reply");
			deliver(sc);
		}
		return;
	}
	if (nread < 0) {
		fail(sc, CLAMD_ERR_IO, "read from", (int)nread);
		return;
	}
	if (nread == 0)
		return;		/* EAGAIN */
	sc->rlen += (size_t)nread;
	nul = memchr(sc->reply, '\0', sc->rlen);
	if (nul != NULL)
		reply_done(sc, (size_t)(nul - sc->reply) + 1);
	else if (sc->rlen == sizeof(sc->reply)) {
		(void)protocol_error(&sc->res, "reply too long", sc->reply,
		    sc->rlen);
		deliver(sc);
	}
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct clamd_scan *sc = req->data;
	int rc;

	if (sc->finished)
		return;		/* UV_ECANCELED from release() */
	if (status < 0) {
		fail(sc, CLAMD_ERR_CONNECT, "connect to", status);
		return;
	}
	if ((rc = uv_read_start(sc->stream, on_alloc, on_read)) < 0) {
		fail(sc, CLAMD_ERR_IO, "read from", rc);
		return;
	}
	send_next(sc);
}

/* Deliver sc->res from the loop: the callback never runs inside the
 * call that started the scan. */
static void
finish_soon(struct clamd_scan *sc)
{
	sc->res_ready = true;
	if (uv_timer_start(&sc->timer, on_timer, 0, 0) != 0)
		fatalx("clamd: uv_timer_start failed");
}

static int
start_connect(struct clamd_scan *sc)
{
	struct sockaddr_storage ss;
	int rc;

	sc->creq.data = sc;
	if (sc->addr.kind == CLAMD_ADDR_UNIX) {
		if ((rc = uv_pipe_init(sc->loop, &sc->h.pipe, 0)) < 0)
			return rc;
		sc->stream = (uv_stream_t *)&sc->h.pipe;
	} else {
		memset(&ss, 0, sizeof(ss));
		if (strchr(sc->addr.host, ':') != NULL)
			rc = uv_ip6_addr(sc->addr.host, sc->addr.port,
			    (struct sockaddr_in6 *)&ss);
		else
			rc = uv_ip4_addr(sc->addr.host, sc->addr.port,
			    (struct sockaddr_in *)&ss);
		if (rc < 0)
			return rc;
		if ((rc = uv_tcp_init(sc->loop, &sc->h.tcp)) < 0)
			return rc;
		sc->stream = (uv_stream_t *)&sc->h.tcp;
	}
	sc->stream->data = sc;
	sc->stream_open = true;
	sc->open_handles++;
	if (sc->addr.kind == CLAMD_ADDR_UNIX) {
		/* Errors come to on_connect. */
		uv_pipe_connect(&sc->creq, &sc->h.pipe, sc->addr.path,
		    on_connect);
		return 0;
	}
	return uv_tcp_connect(&sc->creq, &sc->h.tcp,
	    (const struct sockaddr *)&ss, on_connect);
}

static struct clamd_scan *
scan_start(uv_loop_t *loop, const struct clamd_addr *addr, bool ping,
    const void *data, size_t len, const struct clamd_limits *lim,
    clamd_cb *cb, void *ctx)
{
	struct clamd_scan *sc = xcalloc(1, sizeof(*sc));
	int rc;

	sc->loop = loop;
	sc->cb = cb;
	sc->ctx = ctx;
	sc->ping = ping;
	sc->data = data;
	sc->len = len;
	sc->addr = *addr;
	if (lim != NULL)
		sc->lim = *lim;
	else
		clamd_limits_default(&sc->lim);
	if (sc->lim.timeout_ms == 0 || sc->lim.timeout_ms > CLAMD_TIMEOUT_MAX_MS)
		sc->lim.timeout_ms = CLAMD_TIMEOUT_DEFAULT_MS;
	if (sc->lim.chunk == 0 || sc->lim.chunk > CLAMD_CHUNK_MAX)
		sc->lim.chunk = CLAMD_CHUNK_DEFAULT;
	if (sc->lim.stream_max == 0)
		sc->lim.stream_max = CLAMD_STREAM_MAX_DEFAULT;

	if (uv_timer_init(loop, &sc->timer) != 0)
		fatalx("clamd: uv_timer_init failed");
	sc->timer.data = sc;
	sc->open_handles = 1;
	if (!ping && len > sc->lim.stream_max) {
		/* clamd would drop the connection mid-stream; say why. */
		set_error(&sc->res, CLAMD_ERR_SIZE,
		    "%zu octets exceed the clamd stream limit of %zu", len,
		    sc->lim.stream_max);
		finish_soon(sc);
		return sc;
	}
	if ((rc = start_connect(sc)) < 0) {
		char a[CLAMD_ADDR_MAX + 16];

		set_error(&sc->res, CLAMD_ERR_CONNECT, "connect to %s: %s",
		    clamd_addr_format(&sc->addr, a, sizeof(a)),
		    uv_strerror(rc));
		finish_soon(sc);
		return sc;
	}
	if (uv_timer_start(&sc->timer, on_timer, sc->lim.timeout_ms, 0) != 0)
		fatalx("clamd: uv_timer_start failed");
	return sc;
}

struct clamd_scan *
clamd_scan(uv_loop_t *loop, const struct clamd_addr *addr, const void *data,
    size_t len, const struct clamd_limits *lim, clamd_cb *cb, void *ctx)
{
	return scan_start(loop, addr, false, data, len, lim, cb, ctx);
}

struct clamd_scan *
clamd_ping(uv_loop_t *loop, const struct clamd_addr *addr,
    uint32_t timeout_ms, clamd_cb *cb, void *ctx)
{
	struct clamd_limits lim;

	clamd_limits_default(&lim);
	lim.timeout_ms = timeout_ms;
	return scan_start(loop, addr, true, NULL, 0, &lim, cb, ctx);
}

void
clamd_cancel(struct clamd_scan *sc)
{
	if (sc == NULL || sc->finished)
		return;
	release(sc);
}

/* ---- blocking, for moatctl ---------------------------------------------- */

struct blocking {
	struct clamd_result	*r;
	bool			 done;
};

static void
on_blocking(const struct clamd_result *r, void *ctx)
{
	struct blocking *b = ctx;

	*b->r = *r;
	b->done = true;
}

static int
run_blocking(const char *addr, bool ping, const void *data, size_t len,
    const struct clamd_limits *lim, struct clamd_result *r)
{
	struct blocking b = { .r = r, .done = false };
	struct clamd_addr a;
	uv_loop_t loop;
	const char *err;
	int rc;

	if (clamd_addr_parse(addr, &a, &err) < 0) {
		set_error(r, CLAMD_ERR_ADDRESS, "%s", err);
		return 0;
	}
	if ((rc = uv_loop_init(&loop)) < 0) {
		set_error(r, CLAMD_ERR_IO, "uv_loop_init: %s",
		    uv_strerror(rc));
		return -1;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	(void)scan_start(&loop, &a, ping, data, len, lim, on_blocking, &b);
	/* Runs until both handles are closed, i.e. after the callback. */
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		fatalx("clamd: handles left on the blocking loop");
	if (!b.done)
		fatalx("clamd: blocking scan ended without a result");
	return 0;
}

int
clamd_scan_blocking(const char *addr, const void *data, size_t len,
    const struct clamd_limits *lim, struct clamd_result *r)
{
	return run_blocking(addr, false, data, len, lim, r);
}

int
clamd_ping_blocking(const char *addr, uint32_t timeout_ms,
    struct clamd_result *r)
{
	struct clamd_limits lim;

	clamd_limits_default(&lim);
	lim.timeout_ms = timeout_ms;
	return run_blocking(addr, true, NULL, 0, &lim, r);
}
