/* test_clamd: the clamd client (src/filter/clamd.c). Pure parts: the
 * address syntax and the reply line (good, bad, sanitized, bounded). The
 * exchange: against a fake clamd served by a thread on a unix socket (and
 * once on TCP) that checks the INSTREAM framing it receives and then
 * answers clean, infected, error, garbage, never, or hangs up midway; plus
 * refused connections, the size limit, the time budget and cancellation
 * with a write in flight. Every test closes its loop with
 * uv_loop_close() == 0, so a handle left open fails here and a leak shows
 * under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "clamd.h"
#include "util.h"

#define GUARD_MS 10000		/* no test may wait longer on its loop */
#define BIG_LEN (8u * 1024 * 1024)	/* more than socket buffers hold */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- parsers ------------------------------------------------------------ */

static void
test_addr_parse_good(void **state)
{
	static const struct {
		const char	*in;
		enum clamd_addr_kind kind;
		const char	*host_or_path;
		uint16_t	 port;
		const char	*formatted;
	} cases[] = {
		{ "unix:/run/clamav/clamd.ctl", CLAMD_ADDR_UNIX,
		    "/run/clamav/clamd.ctl", 0, NULL },
		{ "tcp:127.0.0.1:3310", CLAMD_ADDR_TCP, "127.0.0.1", 3310,
		    NULL },
		{ "tcp:[::1]:3310", CLAMD_ADDR_TCP, "::1", 3310, NULL },
		{ "tcp:::1:3310", CLAMD_ADDR_TCP, "::1", 3310,
		    "tcp:[::1]:3310" },
		{ "tcp:192.0.2.7:1", CLAMD_ADDR_TCP, "192.0.2.7", 1, NULL },
		{ "tcp:[2001:db8::5]:65535", CLAMD_ADDR_TCP, "2001:db8::5",
		    65535, NULL },
	};
	struct clamd_addr a;
	const char *err;
	char buf[CLAMD_ADDR_MAX + 16];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		assert_int_equal(clamd_addr_parse(cases[i].in, &a, &err), 0);
		assert_int_equal(a.kind, cases[i].kind);
		if (a.kind == CLAMD_ADDR_UNIX)
			assert_string_equal(a.path, cases[i].host_or_path);
		else {
			assert_string_equal(a.host, cases[i].host_or_path);
			assert_int_equal(a.port, cases[i].port);
		}
		assert_string_equal(clamd_addr_format(&a, buf, sizeof(buf)),
		    cases[i].formatted ? cases[i].formatted : cases[i].in);
	}
}

static void
test_addr_parse_bad(void **state)
{
	static const char *const cases[] = {
		"", "unix:", "unix:relative/path", "tcp:", "tcp:127.0.0.1",
		"tcp:127.0.0.1:", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536",
		"tcp:127.0.0.1:33x", "tcp:localhost:3310", "tcp::3310",
		"tcp:[127.0.0.1]:3310", "tcp:[::1:3310", "tcp:[::1]3310",
		"tcp:1.2.3:3310", "tcp:1.2.3.4.5:3310", "tcp:1.2.3.4:+3310",
		"udp:127.0.0.1:3310", "/run/clamav/clamd.ctl",
		"UNIX:/run/clamd", "tcp:fe80::1%eth0:3310",
	};
	struct clamd_addr a;
	const char *err;
	char long_path[CLAMD_PATH_MAX + 16];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		err = NULL;
		if (clamd_addr_parse(cases[i], &a, &err) != -1)
			fail_msg("accepted \"%s\"", cases[i]);
		assert_non_null(err);
	}
	/* One octet over sun_path. */
	memcpy(long_path, "unix:/", 6);
	memset(long_path + 6, 'a', CLAMD_PATH_MAX);
	long_path[6 + CLAMD_PATH_MAX] = '\0';
	assert_int_equal(clamd_addr_parse(long_path, &a, &err), -1);
	long_path[5 + CLAMD_PATH_MAX] = '\0';	/* exactly the maximum */
	assert_int_equal(clamd_addr_parse(long_path, &a, &err), 0);
}

static void
test_reply_parse(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;	/* 0: strlen + 1 (the NUL) */
		int		 ret;
		enum clamd_status status;
		enum clamd_error error;
		const char	*text;	/* signature, or a reason prefix */
	} cases[] = {
		{ "stream: OK", 0, 0, CLAMD_CLEAN, CLAMD_ERR_NONE, "" },
		{ "stream: OK\n", 11, 0, CLAMD_CLEAN, CLAMD_ERR_NONE, "" },
		{ "stream: OK", 10, 0, CLAMD_CLEAN, CLAMD_ERR_NONE, "" },
		{ "stream: Eicar-Signature FOUND", 0, 0, CLAMD_INFECTED,
		    CLAMD_ERR_NONE, "Eicar-Signature" },
		{ "stream: Win.Test.EICAR_HDB-1 FOUND", 0, 0, CLAMD_INFECTED,
		    CLAMD_ERR_NONE, "Win.Test.EICAR_HDB-1" },
		/* Unsafe octets never reach a reply line or a header. */
		{ "stream: Bad\r\tName<x>;$ FOUND", 0, 0, CLAMD_INFECTED,
		    CLAMD_ERR_NONE, "Bad__Name_x___" },
		{ "stream: Two words FOUND", 0, 0, CLAMD_INFECTED,
		    CLAMD_ERR_NONE, "Two_words" },
		{ "INSTREAM size limit exceeded. ERROR", 0, 0, CLAMD_ERROR,
		    CLAMD_ERR_SIZE, "clamd: INSTREAM size limit exceeded." },
		{ "stream: Can't allocate memory ERROR", 0, 0, CLAMD_ERROR,
		    CLAMD_ERR_SERVER, "clamd: Can_t allocate memory" },
		{ "UNKNOWN COMMAND", 0, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "unexpected reply" },
		{ "OK", 0, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "unexpected reply" },
		{ "Eicar FOUND", 0, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "unexpected reply" },
		{ "stream:  FOUND", 0, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "unexpected reply" },
		{ "stream: FOUND", 0, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "unexpected reply" },
		{ "stream: OK ", 0, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "unexpected reply" },
		{ "stream: ok", 0, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "unexpected reply" },
		{ "", 0, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "unexpected reply" },
		{ "stream: OK\0stream: X FOUND", 27, -1, CLAMD_ERROR,
		    CLAMD_ERR_PROTOCOL, "NUL or newline" },
		{ "stream: OK\n\n", 12, -1, CLAMD_ERROR, CLAMD_ERR_PROTOCOL,
		    "NUL or newline" },
	};
	struct clamd_result r;
	size_t i, len;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].in) + 1;
		if (clamd_reply_parse(cases[i].in, len, &r) != cases[i].ret)
			fail_msg("case %zu \"%s\": wrong return", i,
			    cases[i].in);
		assert_int_equal(r.status, cases[i].status);
		assert_int_equal(r.error, cases[i].error);
		if (r.status == CLAMD_INFECTED)
			assert_string_equal(r.signature, cases[i].text);
		else if (strncmp(r.reason, cases[i].text,
		    strlen(cases[i].text)) != 0)
			fail_msg("case %zu: reason \"%s\"", i, r.reason);
	}
}

static void
test_reply_parse_bounds(void **state)
{
	char line[CLAMD_REPLY_MAX + 64];
	struct clamd_result r;
	size_t n;

	(void)state;
	/* A signature longer than we keep is cut, not overflowed. */
	memcpy(line, "stream: ", 8);
	memset(line + 8, 'A', 600);
	memcpy(line + 608, " FOUND", 7);
	assert_int_equal(clamd_reply_parse(line, 615, &r), 0);
	assert_int_equal(r.status, CLAMD_INFECTED);
	assert_int_equal(strlen(r.signature), CLAMD_SIGNATURE_MAX);
	/* A line of CLAMD_REPLY_MAX octets without its NUL is too long. */
	n = CLAMD_REPLY_MAX;
	memset(line, 'x', n);
	assert_int_equal(clamd_reply_parse(line, n, &r), -1);
	assert_int_equal(r.error, CLAMD_ERR_PROTOCOL);
	assert_true(strlen(r.reason) <= CLAMD_REASON_MAX);
	assert_null(strchr(r.reason, '\n'));
	/* Binary garbage is escaped into the reason, never copied raw. */
	memcpy(line, "\x01\xff\r\n", 4);
	assert_int_equal(clamd_reply_parse(line, 3, &r), -1);
	for (n = 0; r.reason[n] != '\0'; n++)
		assert_true(r.reason[n] >= 0x20 && r.reason[n] < 0x7f);
}

/* ---- a fake clamd ------------------------------------------------------- */

enum fake_mode {
	FAKE_REPLY,		/* read the whole stream, send reply */
	FAKE_SILENT,		/* read the whole stream, never answer */
	FAKE_CLOSE_MID,		/* read the command and a little, close */
	FAKE_EARLY_ERROR,	/* read the command, answer, close */
	FAKE_STALL,		/* read nothing until told to stop */
	FAKE_PING,		/* expect zPING, send reply */
};

struct fake {
	int		 lfd;
	int		 stop[2];	/* main writes here: stop stalling */
	pthread_t	 thread;
	enum fake_mode	 mode;
	const char	*reply;		/* sent with its NUL */
	size_t		 reply_len;	/* 0: strlen + 1 */
	/* What the thread saw, for the main thread to check. */
	char		 cmd[32];
	size_t		 total;		/* stream octets received */
	size_t		 nchunks;
	size_t		 max_chunk;
	bool		 terminated;	/* the zero-length chunk came */
	bool		 framing_ok;
	char		 path[128];
	char		 dir[64];
	uint16_t	 port;
};

static int
read_full(int fd, void *p, size_t len)
{
	uint8_t *b = p;
	ssize_t n;

	while (len > 0) {
		n = read(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The command: octets up to and with the NUL. */
static int
read_cmd(struct fake *f, int fd)
{
	size_t i;

	for (i = 0; i + 1 < sizeof(f->cmd); i++) {
		if (read_full(fd, &f->cmd[i], 1) < 0)
			return -1;
		if (f->cmd[i] == '\0')
			return 0;
	}
	return -1;
}

static void
read_stream(struct fake *f, int fd)
{
	uint8_t hdr[4], buf[65536];
	uint32_t n, part;

	f->framing_ok = false;
	for (;;) {
		if (read_full(fd, hdr, 4) < 0)
			return;
		n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		if (n == 0) {
			f->terminated = true;
			f->framing_ok = true;
			return;
		}
		f->nchunks++;
		if (n > f->max_chunk)
			f->max_chunk = n;
		f->total += n;
		while (n > 0) {
			part = n > sizeof(buf) ? sizeof(buf) : n;
			if (read_full(fd, buf, part) < 0)
				return;
			n -= part;
		}
	}
}

static void
send_reply(struct fake *f, int fd)
{
	size_t len = f->reply_len ? f->reply_len : strlen(f->reply) + 1;

	(void)send(fd, f->reply, len, MSG_NOSIGNAL);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	uint8_t some[1000], c;
	int fd;

	if ((fd = accept(f->lfd, NULL, NULL)) < 0)
		return NULL;
	switch (f->mode) {
	case FAKE_REPLY:
		if (read_cmd(f, fd) == 0)
			read_stream(f, fd);
		send_reply(f, fd);
		break;
	case FAKE_SILENT:
		if (read_cmd(f, fd) == 0)
			read_stream(f, fd);
		/* Until the client gives up and closes. */
		while (read(fd, &c, 1) > 0)
			;
		break;
	case FAKE_CLOSE_MID:
		if (read_cmd(f, fd) == 0)
			(void)read_full(fd, some, sizeof(some));
		break;
	case FAKE_EARLY_ERROR:
		if (read_cmd(f, fd) == 0)
			send_reply(f, fd);
		break;
	case FAKE_STALL:
		if (read(f->stop[0], &c, 1) < 0)
			break;	/* the main thread is gone: close */
		break;
	case FAKE_PING:
		if (read_cmd(f, fd) == 0)
			send_reply(f, fd);
		break;
	}
	(void)close(fd);
	return NULL;
}

static void
fake_start(struct fake *f, enum fake_mode mode, const char *reply, bool tcp)
{
	struct sockaddr_un sun;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->reply = reply;
	assert_int_equal(pipe(f->stop), 0);
	if (tcp) {
		f->lfd = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(f->lfd >= 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(f->lfd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sin,
		    &slen), 0);
		f->port = ntohs(sin.sin_port);
	} else {
		moat_strlcpy(f->dir, "/tmp/test_clamd.XXXXXX", sizeof(f->dir));
		assert_non_null(mkdtemp(f->dir));
		assert_true((size_t)snprintf(f->path, sizeof(f->path),
		    "%s/clamd.sock", f->dir) < sizeof(f->path));
		f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(f->lfd >= 0);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		moat_strlcpy(sun.sun_path, f->path, sizeof(sun.sun_path));
		assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
	}
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void
fake_addr(const struct fake *f, struct clamd_addr *a)
{
	char text[200];
	const char *err;

	if (f->port != 0)
		snprintf(text, sizeof(text), "tcp:127.0.0.1:%u",
		    (unsigned)f->port);
	else
		snprintf(text, sizeof(text), "unix:%s", f->path);
	assert_int_equal(clamd_addr_parse(text, a, &err), 0);
}

static void
fake_stop(struct fake *f)
{
	assert_int_equal(write(f->stop[1], "x", 1), 1);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	(void)close(f->lfd);
	(void)close(f->stop[0]);
	(void)close(f->stop[1]);
	if (f->path[0] != '\0') {
		(void)unlink(f->path);
		(void)rmdir(f->dir);
	}
}

/* ---- running one exchange ----------------------------------------------- */

struct outcome {
	int			 calls;
	struct clamd_result	 r;
	uv_loop_t		*loop;
};

static void
on_result(const struct clamd_result *r, void *ctx)
{
	struct outcome *o = ctx;

	o->calls++;
	o->r = *r;
}

static void
on_guard(uv_timer_t *t)
{
	(void)t;
	fail_msg("the loop ran past the guard time");
}

/* Run loop until nothing is left (the scan freed itself), under a guard
 * timer, then check that the loop is empty. */
static void
run_to_end(uv_loop_t *loop)
{
	uv_timer_t guard;

	assert_int_equal(uv_timer_init(loop, &guard), 0);
	assert_int_equal(uv_timer_start(&guard, on_guard, GUARD_MS, 0), 0);
	uv_unref((uv_handle_t *)&guard);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	uv_close((uv_handle_t *)&guard, NULL);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void
scan_fake(struct fake *f, const void *data, size_t len,
    const struct clamd_limits *lim, struct outcome *o)
{
	uv_loop_t loop;
	struct clamd_addr a;

	memset(o, 0, sizeof(*o));
	assert_int_equal(uv_loop_init(&loop), 0);
	fake_addr(f, &a);
	(void)clamd_scan(&loop, &a, data, len, lim, on_result, o);
	assert_int_equal(o->calls, 0);	/* never from inside the call */
	run_to_end(&loop);
	assert_int_equal(o->calls, 1);
}

static const char message[] =
    "From: a@example.org\r\nSubject: test\r\n\r\nhello\r\n";

static void
test_scan_clean(void **state)
{
	struct fake f;
	struct outcome o;

	(void)state;
	fake_start(&f, FAKE_REPLY, "stream: OK", false);
	scan_fake(&f, message, sizeof(message) - 1, NULL, &o);
	fake_stop(&f);
	assert_int_equal(o.r.status, CLAMD_CLEAN);
	assert_string_equal(f.cmd, "zINSTREAM");
	assert_true(f.framing_ok);
	assert_int_equal(f.total, sizeof(message) - 1);
	assert_int_equal(f.nchunks, 1);
}

static void
test_scan_infected_chunked(void **state)
{
	struct clamd_limits lim;
	struct fake f;
	struct outcome o;
	static uint8_t data[10000 + 7];

	(void)state;
	memset(data, 'm', sizeof(data));
	clamd_limits_default(&lim);
	lim.chunk = 1000;
	fake_start(&f, FAKE_REPLY, "stream: Eicar-Signature FOUND", false);
	scan_fake(&f, data, sizeof(data), &lim, &o);
	fake_stop(&f);
	assert_int_equal(o.r.status, CLAMD_INFECTED);
	assert_string_equal(o.r.signature, "Eicar-Signature");
	assert_true(f.framing_ok);
	assert_int_equal(f.total, sizeof(data));
	assert_int_equal(f.nchunks, 11);
	assert_int_equal(f.max_chunk, 1000);
}

static void
test_scan_tcp_and_empty(void **state)
{
	struct fake f;
	struct outcome o;

	(void)state;
	fake_start(&f, FAKE_REPLY, "stream: OK", true);
	scan_fake(&f, "", 0, NULL, &o);
	fake_stop(&f);
	assert_int_equal(o.r.status, CLAMD_CLEAN);
	assert_true(f.terminated);
	assert_int_equal(f.nchunks, 0);
}

static void
test_scan_error_reply(void **state)
{
	struct fake f;
	struct outcome o;

	(void)state;
	fake_start(&f, FAKE_REPLY, "stream: Can't allocate memory ERROR",
	    false);
	scan_fake(&f, message, sizeof(message) - 1, NULL, &o);
	fake_stop(&f);
	assert_int_equal(o.r.status, CLAMD_ERROR);
	assert_int_equal(o.r.error, CLAMD_ERR_SERVER);
}

static void
test_scan_garbage_reply(void **state)
{
	struct fake f;
	struct outcome o;

	(void)state;
	fake_start(&f, FAKE_REPLY, "HTTP/1.0 200 OK\r\n", false);
	scan_fake(&f, message, sizeof(message) - 1, NULL, &o);
	fake_stop(&f);
	assert_int_equal(o.r.status, CLAMD_ERROR);
	assert_int_equal(o.r.error, CLAMD_ERR_PROTOCOL);
	assert_null(strchr(o.r.reason, '\r'));
}

static void
test_scan_reply_too_long(void **state)
{
	static char reply[CLAMD_REPLY_MAX * 3];
	struct fake f;
	struct outcome o;

	(void)state;
	memset(reply, 'A', sizeof(reply) - 1);
	fake_start(&f, FAKE_REPLY, reply, false);
	scan_fake(&f, message, sizeof(message) - 1, NULL, &o);
	fake_stop(&f);
	assert_int_equal(o.r.status, CLAMD_ERROR);
	assert_int_equal(o.r.error, CLAMD_ERR_PROTOCOL);
}

/* A clean verdict while part of the message is unsent is no verdict. */
static void
test_scan_early_ok_is_protocol_error(void **state)
{
	struct fake f;
	struct outcome o;
	uint8_t *big = calloc(1, BIG_LEN);

	(void)state;
	assert_non_null(big);
	fake_start(&f, FAKE_EARLY_ERROR, "stream: OK", false);
	scan_fake(&f, big, BIG_LEN, NULL, &o);
	fake_stop(&f);
	free(big);
	assert_int_equal(o.r.status, CLAMD_ERROR);
	assert_int_equal(o.r.error, CLAMD_ERR_PROTOCOL);
}

/* clamd answers its size limit and hangs up while we still write. */
static void
test_scan_server_size_limit(void **state)
{
	struct fake f;
	struct outcome o;
	uint8_t *big = calloc(1, BIG_LEN);

	(void)state;
	assert_non_null(big);
	fake_start(&f, FAKE_EARLY_ERROR, "INSTREAM size limit exceeded. ERROR",
	    false);
	scan_fake(&f, big, BIG_LEN, NULL, &o);
	fake_stop(&f);
	free(big);
	assert_int_equal(o.r.status, CLAMD_ERROR);
	/* The reply, or the broken pipe if the kernel dropped it. */
	assert_true(o.r.error == CLAMD_ERR_SIZE ||
	    o.r.error == CLAMD_ERR_IO || o.r.error == CLAMD_ERR_PROTOCOL);
}

static void
test_scan_timeout(void **state)
{
	struct clamd_limits lim;
	struct fake f;
	struct outcome o;
	uint64_t t0;

	(void)state;
	clamd_limits_default(&lim);
	lim.timeout_ms = 200;
	fake_start(&f, FAKE_SILENT, NULL, false);
	t0 = uv_hrtime();
	scan_fake(&f, message, sizeof(message) - 1, &lim, &o);
	fake_stop(&f);
	assert_int_equal(o.r.status, CLAMD_ERROR);
	assert_int_equal(o.r.error, CLAMD_ERR_TIMEOUT);
	assert_true(uv_hrtime() - t0 >= 150 * 1000000ull);
	assert_true(f.framing_ok);
}

static void
test_scan_closed_mid_stream(void **state)
{
	struct fake f;
	struct outcome o;
	uint8_t *big = calloc(1, BIG_LEN);

	(void)state;
	assert_non_null(big);
	fake_start(&f, FAKE_CLOSE_MID, NULL, false);
	scan_fake(&f, big, BIG_LEN, NULL, &o);
	fake_stop(&f);
	free(big);
	assert_int_equal(o.r.status, CLAMD_ERROR);
	assert_true(o.r.error == CLAMD_ERR_PROTOCOL ||
	    o.r.error == CLAMD_ERR_IO);
}

static void
test_scan_refused(void **state)
{
	struct clamd_addr a;
	struct outcome o;
	uv_loop_t loop;
	const char *err;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char text[64];
	int fd;

	(void)state;
	/* No socket at that path. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(clamd_addr_parse("unix:/nonexistent/clamd.sock", &a,
	    &err), 0);
	(void)clamd_scan(&loop, &a, message, sizeof(message) - 1, NULL,
	    on_result, &o);
	run_to_end(&loop);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.r.error, CLAMD_ERR_CONNECT);
	assert_non_null(strstr(o.r.reason, "/nonexistent/clamd.sock"));

	/* A TCP port nobody listens on (bound, then closed). */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	(void)close(fd);
	snprintf(text, sizeof(text), "tcp:127.0.0.1:%u",
	    (unsigned)ntohs(sin.sin_port));
	memset(&o, 0, sizeof(o));
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(clamd_addr_parse(text, &a, &err), 0);
	(void)clamd_scan(&loop, &a, message, sizeof(message) - 1, NULL,
	    on_result, &o);
	run_to_end(&loop);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.r.error, CLAMD_ERR_CONNECT);
}

static void
test_scan_over_limit_is_not_sent(void **state)
{
	struct clamd_limits lim;
	struct clamd_addr a;
	struct outcome o;
	uv_loop_t loop;
	const char *err;

	(void)state;
	clamd_limits_default(&lim);
	lim.stream_max = 10;
	memset(&o, 0, sizeof(o));
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(clamd_addr_parse("unix:/nonexistent/clamd.sock", &a,
	    &err), 0);
	(void)clamd_scan(&loop, &a, message, sizeof(message) - 1, &lim,
	    on_result, &o);
	assert_int_equal(o.calls, 0);
	run_to_end(&loop);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.r.error, CLAMD_ERR_SIZE);
	/* Exactly the limit is fine (then it fails to connect). */
	lim.stream_max = sizeof(message) - 1;
	memset(&o, 0, sizeof(o));
	assert_int_equal(uv_loop_init(&loop), 0);
	(void)clamd_scan(&loop, &a, message, sizeof(message) - 1, &lim,
	    on_result, &o);
	run_to_end(&loop);
	assert_int_equal(o.r.error, CLAMD_ERR_CONNECT);
}

struct cancel_ctx {
	struct clamd_scan	*sc;
	uint8_t			*data;
};

static void
on_cancel_timer(uv_timer_t *t)
{
	struct cancel_ctx *cc = t->data;

	clamd_cancel(cc->sc);
	/* The caller may free the message at once. */
	free(cc->data);
	cc->data = NULL;
	uv_close((uv_handle_t *)t, NULL);
}

/* Cancel with a chunk write blocked on a server that reads nothing. */
static void
test_cancel_in_flight(void **state)
{
	struct cancel_ctx cc;
	struct clamd_addr a;
	struct fake f;
	struct outcome o;
	uv_loop_t loop;
	uv_timer_t t;

	(void)state;
	memset(&o, 0, sizeof(o));
	cc.data = calloc(1, BIG_LEN);
	assert_non_null(cc.data);
	fake_start(&f, FAKE_STALL, NULL, false);
	assert_int_equal(uv_loop_init(&loop), 0);
	fake_addr(&f, &a);
	cc.sc = clamd_scan(&loop, &a, cc.data, BIG_LEN, NULL, on_result, &o);
	assert_int_equal(uv_timer_init(&loop, &t), 0);
	t.data = &cc;
	assert_int_equal(uv_timer_start(&t, on_cancel_timer, 100, 0), 0);
	run_to_end(&loop);
	fake_stop(&f);
	assert_int_equal(o.calls, 0);
	assert_null(cc.data);
}

/* Cancel before the loop ever ran: nothing connected yet. */
static void
test_cancel_at_once(void **state)
{
	struct fake f;
	struct clamd_addr a;
	struct outcome o;
	uv_loop_t loop;
	struct clamd_scan *sc;

	(void)state;
	memset(&o, 0, sizeof(o));
	fake_start(&f, FAKE_STALL, NULL, true);
	assert_int_equal(uv_loop_init(&loop), 0);
	fake_addr(&f, &a);
	sc = clamd_scan(&loop, &a, message, sizeof(message) - 1, NULL,
	    on_result, &o);
	clamd_cancel(sc);
	clamd_cancel(NULL);
	run_to_end(&loop);
	fake_stop(&f);
	assert_int_equal(o.calls, 0);
}

static void
test_ping(void **state)
{
	struct clamd_result r;
	struct fake f;
	char addr[200];

	(void)state;
	fake_start(&f, FAKE_PING, "PONG", false);
	snprintf(addr, sizeof(addr), "unix:%s", f.path);
	assert_int_equal(clamd_ping_blocking(addr, 2000, &r), 0);
	fake_stop(&f);
	assert_string_equal(f.cmd, "zPING");
	assert_int_equal(r.status, CLAMD_CLEAN);

	fake_start(&f, FAKE_PING, "PANG", false);
	snprintf(addr, sizeof(addr), "unix:%s", f.path);
	assert_int_equal(clamd_ping_blocking(addr, 2000, &r), 0);
	fake_stop(&f);
	assert_int_equal(r.status, CLAMD_ERROR);
	assert_int_equal(r.error, CLAMD_ERR_PROTOCOL);
}

static void
test_blocking(void **state)
{
	struct clamd_result r;
	struct fake f;
	char addr[200];

	(void)state;
	fake_start(&f, FAKE_REPLY, "stream: Moat.Test FOUND", true);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", (unsigned)f.port);
	assert_int_equal(clamd_scan_blocking(addr, message,
	    sizeof(message) - 1, NULL, &r), 0);
	fake_stop(&f);
	assert_int_equal(r.status, CLAMD_INFECTED);
	assert_string_equal(r.signature, "Moat.Test");
	assert_int_equal(clamd_scan_blocking("bogus", message, 1, NULL, &r),
	    0);
	assert_int_equal(r.error, CLAMD_ERR_ADDRESS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_good),
		cmocka_unit_test(test_addr_parse_bad),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_reply_parse_bounds),
		cmocka_unit_test(test_scan_clean),
		cmocka_unit_test(test_scan_infected_chunked),
		cmocka_unit_test(test_scan_tcp_and_empty),
		cmocka_unit_test(test_scan_error_reply),
		cmocka_unit_test(test_scan_garbage_reply),
		cmocka_unit_test(test_scan_reply_too_long),
		cmocka_unit_test(test_scan_early_ok_is_protocol_error),
		cmocka_unit_test(test_scan_server_size_limit),
		cmocka_unit_test(test_scan_timeout),
		cmocka_unit_test(test_scan_closed_mid_stream),
		cmocka_unit_test(test_scan_refused),
		cmocka_unit_test(test_scan_over_limit_is_not_sent),
		cmocka_unit_test(test_cancel_in_flight),
		cmocka_unit_test(test_cancel_at_once),
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_blocking),
	};

	/* Writing to a fake that hung up must not kill the test. */
	(void)signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
