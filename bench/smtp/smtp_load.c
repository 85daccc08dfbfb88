/*
 * smtp_load - small SMTP load generator for the moat/Postfix benchmark.
 *
 * Sends M messages of S bytes over C parallel sessions (one thread per
 * session).  Each session carries up to --per-conn messages, then QUITs and
 * reconnects.  Optional STARTTLS (--starttls) or implicit TLS (--tls), no
 * certificate verification (the servers use self-signed certificates),
 * TLS 1.2 or later.  Every reply code is checked; failures are counted.
 *
 * A second mode (--idle N) opens N plain sessions, reads the greeting, sends
 * EHLO, prints "READY <n>" on stdout and then keeps the sessions idle until
 * stdin is closed or --hold seconds have passed.
 *
 * Build: cc -O2 -Wall -o smtp_load smtp_load.c -lssl -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096
#define MAX_REPLY_LINES 64
#define MAX_SESSIONS 1024
#define MAX_IDLE 100000

enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT };

struct opts {
	const char *host;
	int port;
	long messages;
	int sessions;
	long size;
	int per_conn;
	int timeout;
	enum tls_mode tls;
	const char *from;
	const char *to;
	const char *helo;
	const char *auth_user;
	const char *auth_pass;
	int verbose;
	long idle;
	int hold;
};

static struct opts g_opt = {
	.host = "127.0.0.1",
	.port = 25,
	.messages = 1000,
	.sessions = 20,
	.size = 1024,
	.per_conn = 100,
	.timeout = 30,
	.tls = TLS_NONE,
	.from = "bench@example.org",
	.to = "demo@example.test",
	.helo = "loadgen.example.org",
	.idle = 0,
	.hold = 600,
};

static SSL_CTX *g_ctx;
static char *g_body;		/* message text, CRLF lines, no leading dots */
static size_t g_body_len;
static atomic_long g_next;	/* next message number to claim */
static atomic_long g_ok;
static atomic_long g_fail;
static atomic_long g_conn_fail;
static atomic_long g_connections;
static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_err_printed;

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
	/* Print only the first few errors to keep the log readable. */
	if (atomic_fetch_add(&g_err_printed, 1) >= 20 && !g_opt.verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (pthread_mutex_lock(&g_err_lock) != 0) {
		va_end(ap);
		return;
	}
	fputs("smtp_load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	(void)pthread_mutex_unlock(&g_err_lock);
	va_end(ap);
}

static double now_s(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- connection with optional TLS and a small line reader ---- */

struct conn {
	int fd;
	SSL *ssl;
	char rbuf[8192];
	size_t rlen;
	size_t rpos;
};

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
	c->rlen = c->rpos = 0;
}

static int set_timeouts(int fd, int secs)
{
	struct timeval tv = { .tv_sec = secs, .tv_usec = 0 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
		return -1;
	return 0;
}

static int conn_open(struct conn *c)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)g_opt.port);
	if (inet_pton(AF_INET, g_opt.host, &sa.sin_addr) != 1) {
		errmsg("bad IPv4 address %s", g_opt.host);
		return -1;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		errmsg("socket: %s", strerror(errno));
		return -1;
	}
	/* SO_SNDTIMEO also bounds connect() on Linux. */
	if (set_timeouts(c->fd, g_opt.timeout) != 0) {
		errmsg("setsockopt: %s", strerror(errno));
		conn_close(c);
		return -1;
	}
	int one = 1;
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
		errmsg("TCP_NODELAY: %s", strerror(errno));
		conn_close(c);
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		errmsg("connect %s:%d: %s", g_opt.host, g_opt.port, strerror(errno));
		conn_close(c);
		return -1;
	}
	atomic_fetch_add(&g_connections, 1);
	return 0;
}

static int conn_tls(struct conn *c)
{
	c->ssl = SSL_new(g_ctx);
	if (c->ssl == NULL) {
		errmsg("SSL_new failed");
		return -1;
	}
	if (SSL_set_fd(c->ssl, c->fd) != 1) {
		errmsg("SSL_set_fd failed");
		return -1;
	}
	/* SNI; harmless for a self-signed server. */
	if (SSL_set_tlsext_host_name(c->ssl, "bench.example.test") != 1) {
		errmsg("SNI failed");
		return -1;
	}
	int r = SSL_connect(c->ssl);
	if (r != 1) {
		unsigned long e = ERR_get_error();
		char eb[256];
		ERR_error_string_n(e, eb, sizeof eb);
		errmsg("TLS handshake failed: %s (ssl error %d, errno %s)", eb,
		       SSL_get_error(c->ssl, r), strerror(errno));
		ERR_clear_error();
		return -1;
	}
	c->rlen = c->rpos = 0;
	return 0;
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	size_t off = 0;
	/* Bounded: each iteration writes >= 1 byte or fails. */
	while (off < n) {
		size_t chunk = n - off;
		if (chunk > INT_MAX)
			chunk = INT_MAX;
		if (c->ssl != NULL) {
			int w = SSL_write(c->ssl, p + off, (int)chunk);
			if (w <= 0) {
				errmsg("SSL_write failed (ssl error %d)",
				       SSL_get_error(c->ssl, w));
				ERR_clear_error();
				return -1;
			}
			off += (size_t)w;
		} else {
			ssize_t w = send(c->fd, p + off, chunk, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				errmsg("send: %s", strerror(errno));
				return -1;
			}
			if (w == 0)
				return -1;
			off += (size_t)w;
		}
	}
	return 0;
}

static int conn_fill(struct conn *c)
{
	if (c->rpos < c->rlen)
		return 0;
	c->rpos = c->rlen = 0;
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, c->rbuf, (int)sizeof c->rbuf);
		if (r <= 0) {
			errmsg("SSL_read failed (ssl error %d, errno %s)",
			       SSL_get_error(c->ssl, r), strerror(errno));
			ERR_clear_error();
			return -1;
		}
		c->rlen = (size_t)r;
	} else {
		for (int tries = 0; tries < 100; tries++) {
			ssize_t r = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				errmsg("recv: %s", strerror(errno));
				return -1;
			}
			if (r == 0) {
				errmsg("connection closed by server");
				return -1;
			}
			c->rlen = (size_t)r;
			return 0;
		}
		return -1;
	}
	return 0;
}

/* Read one line (without CRLF) into out (NUL-terminated). */
static int conn_getline(struct conn *c, char *out, size_t outsz)
{
	size_t n = 0;
	/* Bounded by LINE_MAX_LEN characters. */
	for (size_t i = 0; i < LINE_MAX_LEN; i++) {
		if (conn_fill(c) != 0)
			return -1;
		char ch = c->rbuf[c->rpos++];
		if (ch == '\n') {
			if (n > 0 && out[n - 1] == '\r')
				n--;
			out[n] = '\0';
			return 0;
		}
		if (n + 1 < outsz)
			out[n++] = ch;
	}
	errmsg("reply line too long");
	return -1;
}

/*
 * Read a (possibly multi-line) reply; return its code, or -1 on I/O error.
 * If caps is non-NULL, remember whether STARTTLS was advertised.
 */
static int read_reply(struct conn *c, char *last, size_t lastsz, bool *has_starttls)
{
	char line[LINE_MAX_LEN + 1];
	for (int i = 0; i < MAX_REPLY_LINES; i++) {
		if (conn_getline(c, line, sizeof line) != 0)
			return -1;
		size_t len = strlen(line);
		if (len < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' ||
		    line[1] > '9' || line[2] < '0' || line[2] > '9') {
			errmsg("malformed reply: %.80s", line);
			return -1;
		}
		if (has_starttls != NULL && len >= 12 &&
		    strncasecmp(line + 4, "STARTTLS", 8) == 0)
			*has_starttls = true;
		if (len == 3 || line[3] == ' ') {
			if (last != NULL && lastsz > 0) {
				int w = snprintf(last, lastsz, "%s", line);
				if (w < 0)
					last[0] = '\0';
			}
			return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		}
		if (line[3] != '-') {
			errmsg("malformed reply: %.80s", line);
			return -1;
		}
	}
	errmsg("reply has too many lines");
	return -1;
}

/* Send a command line and check that the reply class is 2 or 3. */
static int command(struct conn *c, const char *cmd, int want_class, bool *has_starttls)
{
	char out[LINE_MAX_LEN];
	int n = snprintf(out, sizeof out, "%s\r\n", cmd);
	if (n < 0 || (size_t)n >= sizeof out) {
		errmsg("command too long");
		return -1;
	}
	if (conn_write(c, out, (size_t)n) != 0)
		return -1;
	char last[LINE_MAX_LEN + 1];
	int code = read_reply(c, last, sizeof last, has_starttls);
	if (code < 0)
		return -1;
	if (code / 100 != want_class) {
		errmsg("'%s' -> %s", cmd, last);
		return -2;
	}
	return 0;
}

static int ehlo(struct conn *c, bool *has_starttls)
{
	char cmd[512];
	int n = snprintf(cmd, sizeof cmd, "EHLO %s", g_opt.helo);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	return command(c, cmd, 2, has_starttls);
}

static int auth_plain(struct conn *c)
{
	unsigned char raw[1024];
	size_t ul = strlen(g_opt.auth_user), pl = strlen(g_opt.auth_pass);
	if (ul + pl + 2 > sizeof raw)
		return -1;
	raw[0] = '\0';
	memcpy(raw + 1, g_opt.auth_user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, g_opt.auth_pass, pl);
	unsigned char b64[1500];
	int bl = EVP_EncodeBlock(b64, raw, (int)(ul + pl + 2));
	if (bl <= 0)
		return -1;
	char cmd[1600];
	int n = snprintf(cmd, sizeof cmd, "AUTH PLAIN %s", (const char *)b64);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	return command(c, cmd, 2, NULL);
}

/* Connect, greet, optional TLS/auth. 0 on success. */
static int session_start(struct conn *c)
{
	if (conn_open(c) != 0)
		return -1;
	if (g_opt.tls == TLS_IMPLICIT && conn_tls(c) != 0)
		return -1;
	char last[LINE_MAX_LEN + 1];
	int code = read_reply(c, last, sizeof last, NULL);
	if (code < 0)
		return -1;
	if (code != 220) {
		errmsg("greeting: %s", last);
		return -1;
	}
	bool st = false;
	if (ehlo(c, &st) != 0)
		return -1;
	if (g_opt.tls == TLS_STARTTLS) {
		if (!st) {
			errmsg("server does not offer STARTTLS");
			return -1;
		}
		if (command(c, "STARTTLS", 2, NULL) != 0)
			return -1;
		if (conn_tls(c) != 0)
			return -1;
		if (ehlo(c, NULL) != 0)
			return -1;
	}
	if (g_opt.auth_user != NULL && auth_plain(c) != 0)
		return -1;
	return 0;
}

static int send_message(struct conn *c)
{
	char cmd[600];
	int n = snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>", g_opt.from);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	int r = command(c, cmd, 2, NULL);
	if (r != 0)
		return r;
	n = snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", g_opt.to);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	r = command(c, cmd, 2, NULL);
	if (r != 0)
		return r;
	r = command(c, "DATA", 3, NULL);
	if (r != 0)
		return r;
	if (conn_write(c, g_body, g_body_len) != 0)
		return -1;
	return command(c, ".", 2, NULL);
}

static void *session_thread(void *arg)
{
	(void)arg;
	struct conn c = { .fd = -1 };
	/*
	 * Outer loop bound: every iteration claims at least one message or
	 * stops, so it runs at most messages + 1 times.
	 */
	for (long iter = 0; iter <= g_opt.messages; iter++) {
		if (atomic_load(&g_next) >= g_opt.messages)
			break;
		if (session_start(&c) != 0) {
			atomic_fetch_add(&g_conn_fail, 1);
			conn_close(&c);
			/* Count one message as failed so that we always progress. */
			if (atomic_fetch_add(&g_next, 1) < g_opt.messages)
				atomic_fetch_add(&g_fail, 1);
			struct timespec ts = { 0, 50 * 1000 * 1000 };
			(void)nanosleep(&ts, NULL);
			continue;
		}
		bool broken = false;
		for (int k = 0; k < g_opt.per_conn; k++) {
			long id = atomic_fetch_add(&g_next, 1);
			if (id >= g_opt.messages)
				break;
			int r = send_message(&c);
			if (r == 0) {
				atomic_fetch_add(&g_ok, 1);
			} else {
				atomic_fetch_add(&g_fail, 1);
				if (r == -1) {	/* I/O error: reconnect */
					broken = true;
					break;
				}
				/* Rejected: reset the transaction and go on. */
				if (command(&c, "RSET", 2, NULL) != 0) {
					broken = true;
					break;
				}
			}
		}
		if (!broken)
			(void)command(&c, "QUIT", 2, NULL);
		conn_close(&c);
	}
	return NULL;
}

/* Build the message: headers + body lines of 76 characters, CRLF, ".". */
static int build_body(void)
{
	size_t cap = (size_t)g_opt.size + 4096;
	g_body = malloc(cap);
	if (g_body == NULL)
		return -1;
	size_t len = 0;
	int n = snprintf(g_body, cap,
			 "From: <%s>\r\nTo: <%s>\r\nSubject: moat benchmark\r\n"
			 "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
			 "Message-ID: <bench.%ld@loadgen.example.org>\r\n\r\n",
			 g_opt.from, g_opt.to, (long)getpid());
	if (n < 0 || (size_t)n >= cap)
		return -1;
	len = (size_t)n;
	static const char alpha[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t payload = 0;
	size_t col = 0;
	/* Payload bytes counted like smtp-source -l: body text incl. CRLF. */
	while (payload < (size_t)g_opt.size && len + 8 < cap) {
		if (col == 76) {
			g_body[len++] = '\r';
			g_body[len++] = '\n';
			payload += 2;
			col = 0;
			continue;
		}
		g_body[len++] = alpha[(payload + col / 7) % (sizeof alpha - 1)];
		payload++;
		col++;
	}
	if (col != 0) {
		g_body[len++] = '\r';
		g_body[len++] = '\n';
	}
	/* The final "." is sent by command(". "). */
	g_body_len = len;
	return 0;
}

static int idle_mode(void)
{
	if (g_opt.idle > MAX_IDLE) {
		fprintf(stderr, "smtp_load: --idle too large\n");
		return 1;
	}
	struct conn *cs = calloc((size_t)g_opt.idle, sizeof *cs);
	if (cs == NULL) {
		fprintf(stderr, "smtp_load: out of memory\n");
		return 1;
	}
	long ok = 0;
	int consecutive_fail = 0;
	for (long i = 0; i < g_opt.idle; i++)
		cs[i].fd = -1;
	for (long i = 0; i < g_opt.idle; i++) {
		if (session_start(&cs[i]) != 0) {
			conn_close(&cs[i]);
			/* The server has stopped accepting: do not wait on each. */
			if (++consecutive_fail >= 5) {
				fprintf(stderr, "smtp_load: giving up after %ld sessions\n", ok);
				break;
			}
			continue;
		}
		consecutive_fail = 0;
		ok++;
	}
	printf("READY %ld\n", ok);
	if (fflush(stdout) != 0)
		return 1;
	/* Wait until stdin is closed (or hold time passes). */
	struct pollfd p = { .fd = 0, .events = POLLIN };
	double end = now_s() + g_opt.hold;
	for (int i = 0; i < g_opt.hold * 10 + 10 && now_s() < end; i++) {
		int r = poll(&p, 1, 100);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			char b[64];
			ssize_t n = read(0, b, sizeof b);
			if (n <= 0)
				break;
		}
	}
	for (long i = 0; i < g_opt.idle; i++) {
		if (cs[i].fd >= 0) {
			/* Be polite but do not wait long for the answer. */
			if (conn_write(&cs[i], "QUIT\r\n", 6) == 0)
				(void)shutdown(cs[i].fd, SHUT_WR);
			conn_close(&cs[i]);
		}
	}
	free(cs);
	return ok == g_opt.idle ? 0 : 2;
}

static void usage(void)
{
	fputs("usage: smtp_load [--host IP] [--port N] [-m messages] [-s sessions]\n"
	      "       [-l size] [--per-conn N] [--starttls|--tls] [--timeout SEC]\n"
	      "       [-f from] [-t to] [--auth user:pass] [--idle N --hold SEC] [-v]\n",
	      stderr);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "messages", required_argument, NULL, 'm' },
		{ "sessions", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'l' },
		{ "per-conn", required_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "starttls", no_argument, NULL, 'S' },
		{ "tls", no_argument, NULL, 'I' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "auth", required_argument, NULL, 'A' },
		{ "idle", required_argument, NULL, 'i' },
		{ "hold", required_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, '?' + 256 },
		{ NULL, 0, NULL, 0 },
	};
	static char authbuf[512];
	int ch;
	long v;
	while ((ch = getopt_long(argc, argv, "m:s:l:f:t:v", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': g_opt.host = optarg; break;
		case 'p':
			if (parse_long(optarg, 1, 65535, &v) != 0) { usage(); return 64; }
			g_opt.port = (int)v; break;
		case 'm':
			if (parse_long(optarg, 1, 100000000, &v) != 0) { usage(); return 64; }
			g_opt.messages = v; break;
		case 's':
			if (parse_long(optarg, 1, MAX_SESSIONS, &v) != 0) { usage(); return 64; }
			g_opt.sessions = (int)v; break;
		case 'l':
			if (parse_long(optarg, 0, 100L * 1024 * 1024, &v) != 0) { usage(); return 64; }
			g_opt.size = v; break;
		case 'P':
			if (parse_long(optarg, 1, 1000000, &v) != 0) { usage(); return 64; }
			g_opt.per_conn = (int)v; break;
		case 'T':
			if (parse_long(optarg, 1, 3600, &v) != 0) { usage(); return 64; }
			g_opt.timeout = (int)v; break;
		case 'S': g_opt.tls = TLS_STARTTLS; break;
		case 'I': g_opt.tls = TLS_IMPLICIT; break;
		case 'f': g_opt.from = optarg; break;
		case 't': g_opt.to = optarg; break;
		case 'A': {
			const char *colon = strchr(optarg, ':');
			size_t ol = strlen(optarg);
			if (colon == NULL || ol >= sizeof authbuf) { usage(); return 64; }
			memcpy(authbuf, optarg, ol + 1);
			authbuf[colon - optarg] = '\0';
			g_opt.auth_user = authbuf;
			g_opt.auth_pass = authbuf + (colon - optarg) + 1;
			break;
		}
		case 'i':
			if (parse_long(optarg, 1, MAX_IDLE, &v) != 0) { usage(); return 64; }
			g_opt.idle = v; break;
		case 'h':
			if (parse_long(optarg, 1, 86400, &v) != 0) { usage(); return 64; }
			g_opt.hold = (int)v; break;
		case 'v': g_opt.verbose = 1; break;
		case '?' + 256: usage(); return 0;
		default: usage(); return 64;
		}
	}
	if (optind != argc) {
		usage();
		return 64;
	}
	if (strlen(g_opt.from) > 256 || strlen(g_opt.to) > 256 || strlen(g_opt.helo) > 256) {
		usage();
		return 64;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 1;

	if (g_opt.tls != TLS_NONE) {
		g_ctx = SSL_CTX_new(TLS_client_method());
		if (g_ctx == NULL) {
			fputs("smtp_load: SSL_CTX_new failed\n", stderr);
			return 1;
		}
		if (SSL_CTX_set_min_proto_version(g_ctx, TLS1_2_VERSION) != 1) {
			fputs("smtp_load: cannot set TLS 1.2 minimum\n", stderr);
			return 1;
		}
		SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
		/* No session resumption: every connection does a full handshake. */
		(void)SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_OFF);
		(void)SSL_CTX_set_options(g_ctx, SSL_OP_NO_TICKET);
	}

	if (g_opt.idle > 0)
		return idle_mode();

	if (build_body() != 0) {
		fputs("smtp_load: cannot build message\n", stderr);
		return 1;
	}

	pthread_t th[MAX_SESSIONS];
	int started = 0;
	double t0 = now_s();
	for (int i = 0; i < g_opt.sessions; i++) {
		if (pthread_create(&th[i], NULL, session_thread, NULL) != 0) {
			fprintf(stderr, "smtp_load: pthread_create failed\n");
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++) {
		if (pthread_join(th[i], NULL) != 0)
			fprintf(stderr, "smtp_load: pthread_join failed\n");
	}
	double el = now_s() - t0;
	long ok = atomic_load(&g_ok), fail = atomic_load(&g_fail);
	printf("RESULT sent=%ld ok=%ld fail=%ld conn_fail=%ld connections=%ld "
	       "elapsed=%.3f msgs_per_s=%.1f\n",
	       g_opt.messages, ok, fail, atomic_load(&g_conn_fail),
	       atomic_load(&g_connections), el, el > 0 ? (double)ok / el : 0.0);
	free(g_body);
	if (g_ctx != NULL)
		SSL_CTX_free(g_ctx);
	if (started == 0)
		return 1;
	return fail == 0 ? 0 : 2;
}
