/* conn: one client connection on a libuv loop, in plaintext or TLS over
 * memory BIOs. It owns the socket, the bounded plaintext input buffer, the
 * output buffer and the TLS state; the protocol session above it reads
 * conn->in and calls conn_write/conn_flush. STARTTLS discards any
 * plaintext already buffered (RFC 3207 5, CVE-2011-0411 class). */
#ifndef MOAT_CONN_H
#define MOAT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "buf.h"

struct conn;

struct conn_ops {
	/* New plaintext was appended to conn->in (or the input limit was
	 * reached: conn->in_overflow). */
	void (*on_input)(struct conn *c);
	/* TLS handshake finished (ok) or failed (!ok; the conn is closing). */
	void (*on_tls)(struct conn *c, bool ok);
	/* Peer closed, error, or conn_close() finished. The session frees
	 * itself here; the conn memory is released after this returns. */
	void (*on_close)(struct conn *c);
	/* Client connections only: the connect finished (status 0) or
	 * failed (a libuv error code; on_close follows). */
	void (*on_connected)(struct conn *c, int status);
	/* Optional: every queued write reached the socket (nothing left in
	 * conn->out or in flight). Lets a session stream large output in
	 * chunks instead of buffering it whole. */
	void (*on_drained)(struct conn *c);
};

struct conn {
	uv_tcp_t	 tcp;
	const struct conn_ops *ops;
	void		*ctx;		/* the session */
	struct buf	 in;		/* plaintext input, bounded */
	bool		 in_overflow;	/* input arrived past in.max */
	struct buf	 out;		/* plaintext not yet written */
	SSL		*ssl;
	bool		 tls_ready;	/* handshake complete */
	bool		 paused;	/* reads stopped by the session */
	bool		 eof;		/* peer closed its side */
	bool		 closing;
	bool		 close_after_flush;
	unsigned	 writes_pending;
	int		 connect_error;	/* uv_tcp_connect failed at once */
	char		 peer_ip[64];
	uint16_t	 peer_port;
	char		 local_ip[64];
	uint16_t	 local_port;
};

/* Accept a connection from server into a new conn. in_max bounds the
 * input buffer. Returns NULL (and logs) on failure; ops->on_close is
 * then never called, and the caller frees ctx. */
struct conn *conn_accept(uv_stream_t *server, const struct conn_ops *ops,
    void *ctx, size_t in_max);
/* Connect to a numeric address. NULL only if the address is bad. */
struct conn *conn_connect(uv_loop_t *loop, const char *ip, uint16_t port,
    const struct conn_ops *ops, void *ctx, size_t in_max);
/* Start TLS as a client (after the server's "220" to STARTTLS, or at once
 * for implicit TLS); sni may be NULL. on_tls reports the handshake. */
int conn_start_tls_client(struct conn *c, SSL_CTX *ctx, const char *sni);
/* Start TLS as server now (implicit TLS, or after the STARTTLS reply was
 * queued: the reply is flushed in plaintext first). Discards conn->in. */
int conn_start_tls(struct conn *c, SSL_CTX *ctx);
/* Queue output; conn_flush sends it. */
void conn_write(struct conn *c, const void *p, size_t len);
void conn_printf(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void conn_flush(struct conn *c);
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);
/* Flush pending output, then close. on_close follows. */
void conn_close(struct conn *c);
/* Close now, dropping output. */
void conn_abort(struct conn *c);

#endif
