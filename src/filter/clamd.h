/* clamd: the client side of ClamAV's daemon protocol. Owns the address
 * syntax, the reading of clamd's reply line and the INSTREAM exchange on a
 * libuv loop: connect, "zINSTREAM\0", the message in length-prefixed
 * chunks, a zero-length terminator, one NUL-terminated reply.
 *
 *	struct clamd_addr a;
 *	if (clamd_addr_parse("unix:/run/clamav/clamd.ctl", &a, &err) < 0)
 *		...
 *	s->av = clamd_scan(loop, &a, msg, msglen, NULL, on_av, s);
 *	... on_av(const struct clamd_result *r, void *ctx) runs later, once:
 *	    r->status CLAMD_CLEAN, CLAMD_INFECTED (r->signature) or
 *	    CLAMD_ERROR (r->error, r->reason).
 *	clamd_cancel(s->av) when the session goes away first.
 *
 * Address: "unix:/absolute/path" or "tcp:HOST:PORT" where HOST is a
 * numeric IPv4 address or an IPv6 address, bare or in brackets
 * ("tcp:127.0.0.1:3310", "tcp:[::1]:3310", "tcp:::1:3310"); no names, so
 * that a scan never waits on DNS.
 *
 * Reply (clamd answers "z" commands with a NUL-terminated line):
 *	"stream: OK"			clean
 *	"stream: NAME FOUND"		infected by signature NAME
 *	"stream: TEXT ERROR", "TEXT ERROR"	clamd failed (e.g. "INSTREAM
 *					size limit exceeded. ERROR")
 * anything else is a protocol error.
 *
 * SECURITY: the reply comes from another process that reads hostile
 * data; it is read into a buffer of CLAMD_REPLY_MAX octets, and the
 * signature and error text kept from it are cut to fixed sizes with
 * anything outside a small safe set replaced by '_', so they can go into
 * an SMTP reply, a header or a log line as they are. Writing to a socket
 * clamd has closed raises SIGPIPE: the process must ignore it (moatd's
 * master does; clamd_scan_blocking does it for its caller). */
#ifndef MOAT_CLAMD_H
#define MOAT_CLAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

#define CLAMD_ADDR_MAX 256		/* the address string */
#define CLAMD_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define CLAMD_REPLY_MAX 1024		/* one reply line, with its NUL */
#define CLAMD_SIGNATURE_MAX 128		/* octets of signature name kept */
#define CLAMD_REASON_MAX 200		/* octets of error text kept */
/* Debian's clamd.conf sets StreamMaxLength 25M; clamd's own default is
 * 100M. Sending more than clamd allows gets the connection dropped, so
 * the caller states its clamd's limit and larger data is refused here. */
#define CLAMD_STREAM_MAX_DEFAULT (25u * 1024 * 1024)
#define CLAMD_CHUNK_DEFAULT (64u * 1024)
#define CLAMD_CHUNK_MAX (1u * 1024 * 1024)
#define CLAMD_TIMEOUT_DEFAULT_MS 60000u
#define CLAMD_TIMEOUT_MAX_MS 3600000u

enum clamd_addr_kind {
	CLAMD_ADDR_UNIX = 0,
	CLAMD_ADDR_TCP,
};

struct clamd_addr {
	enum clamd_addr_kind	 kind;
	char			 path[CLAMD_PATH_MAX + 1];	/* unix */
	char			 host[64];	/* tcp, numeric */
	uint16_t		 port;		/* tcp */
};

enum clamd_status {
	CLAMD_CLEAN = 0,	/* "OK"; for a ping: "PONG" */
	CLAMD_INFECTED,
	CLAMD_ERROR,
};

enum clamd_error {
	CLAMD_ERR_NONE = 0,
	CLAMD_ERR_ADDRESS,	/* the address does not parse */
	CLAMD_ERR_CONNECT,	/* refused, no such socket, ... */
	CLAMD_ERR_TIMEOUT,	/* the time budget ran out */
	CLAMD_ERR_SIZE,		/* data over the stream limit (ours or
				 * clamd's) */
	CLAMD_ERR_PROTOCOL,	/* a reply we cannot read, or none */
	CLAMD_ERR_SERVER,	/* clamd answered "... ERROR" */
	CLAMD_ERR_IO,		/* read or write failed */
};

struct clamd_result {
	enum clamd_status	 status;
	enum clamd_error	 error;		/* CLAMD_ERROR only */
	/* CLAMD_INFECTED: the signature name, sanitized. */
	char			 signature[CLAMD_SIGNATURE_MAX + 1];
	/* CLAMD_ERROR: a short human text, sanitized, no newline. */
	char			 reason[CLAMD_REASON_MAX + 1];
};

/* Bounds of one exchange; NULL anywhere means clamd_limits_default(). */
struct clamd_limits {
	uint32_t	 timeout_ms;	/* the whole exchange, connect on */
	size_t		 stream_max;	/* clamd's StreamMaxLength */
	size_t		 chunk;		/* octets per INSTREAM chunk */
};

struct clamd_scan;

/* r and what it holds are valid only during the call; the scan handle is
 * finished when the callback runs (do not cancel it then). */
typedef void clamd_cb(const struct clamd_result *r, void *ctx);

void clamd_limits_default(struct clamd_limits *lim);

/* Parse "unix:/path" or "tcp:HOST:PORT" into *out. Returns 0, or -1 with
 * a static message in *error_r. */
int clamd_addr_parse(const char *s, struct clamd_addr *out,
    const char **error_r);
/* The address as text ("unix:/path", "tcp:[::1]:3310") into buf; returns
 * buf. */
const char *clamd_addr_format(const struct clamd_addr *a, char *buf,
    size_t len);

/* Read one reply line p[0..len) (its terminating NUL or newline, if
 * present, is allowed as the last octet) into *r. Returns 0 with status
 * CLEAN, INFECTED or ERROR/CLAMD_ERR_SERVER (ERROR/CLAMD_ERR_SIZE for
 * clamd's size limit), or -1 for a line that is not a clamd reply: then
 * *r is ERROR/CLAMD_ERR_PROTOCOL with the line, escaped, in r->reason. */
int clamd_reply_parse(const void *p, size_t len, struct clamd_result *r);

/* Scan data[0..len) with clamd at addr. data is not copied: it must stay
 * unchanged until the callback has run or clamd_cancel() returned. cb
 * runs exactly once, from the loop and never from inside this call,
 * unless clamd_cancel() comes first. Never NULL. */
struct clamd_scan *clamd_scan(uv_loop_t *loop, const struct clamd_addr *addr,
    const void *data, size_t len, const struct clamd_limits *lim,
    clamd_cb *cb, void *ctx);
/* Ask clamd at addr for "PONG" (start-up check): the callback gets
 * CLAMD_CLEAN when it answered, CLAMD_ERROR otherwise. Same contract as
 * clamd_scan. */
struct clamd_scan *clamd_ping(uv_loop_t *loop, const struct clamd_addr *addr,
    uint32_t timeout_ms, clamd_cb *cb, void *ctx);
/* The callback will not run; the socket is closed at once (nothing more
 * is read from data) and the memory released once the loop has run.
 * NULL-safe. Only for a scan whose callback has not run yet. */
void clamd_cancel(struct clamd_scan *sc);

/* The same, blocking, on a private loop, for moatctl: addr is the text
 * form. SIGPIPE is ignored from then on. Returns 0 when *r was filled
 * (whatever its status), -1 only when no loop could be made (*r is then
 * an ERROR too). */
int clamd_scan_blocking(const char *addr, const void *data, size_t len,
    const struct clamd_limits *lim, struct clamd_result *r);
int clamd_ping_blocking(const char *addr, uint32_t timeout_ms,
    struct clamd_result *r);

/* "connect", "timeout", "size", "protocol", "server", "io", "address"
 * (for logs: reason=...); "none" for CLAMD_ERR_NONE. */
const char *clamd_error_name(enum clamd_error e);

#endif
