/* conn: libuv TCP connection with optional TLS over memory BIOs.
 *
 * Reads land in one per-process scratch buffer and are immediately copied
 * (TLS: decrypted) into the connection's bounded input buffer, so an idle
 * connection costs no read buffer. Output is collected in conn->out and
 * sent with one uv_write per flush. */
#include "conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

#define CONN_READ_CHUNK 65536
#define CONN_OUT_MAX (64 * 1024 * 1024)	/* replies are small; a cap */

struct conn_write_req {
	uv_write_t	 req;
	struct conn	*c;
	size_t		 len;
	uint8_t		 data[];
};

static char read_scratch[CONN_READ_CHUNK];
static bool read_scratch_busy;

static void conn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void conn_tls_pump(struct conn *c);

static void
addr_to_str(const struct sockaddr_storage *ss, char *ip, size_t iplen,
    uint16_t *port)
{
	ip[0] = '\0';
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		uv_ip4_name(sin, ip, iplen);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		uv_ip6_name(sin6, ip, iplen);
		*port = ntohs(sin6->sin6_port);
		/* Show v4-mapped peers as plain IPv4. */
		if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.'))
			memmove(ip, ip + 7, strlen(ip + 7) + 1);
	}
}

static void
conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	/* The scratch buffer is consumed synchronously in conn_on_read. */
	if (read_scratch_busy) {
		buf->base = NULL;
		buf->len = 0;
		return;
	}
	read_scratch_busy = true;
	buf->base = read_scratch;
	buf->len = sizeof(read_scratch);
}

static void
conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (c->connect_error != 0 && c->ops->on_connected != NULL)
		c->ops->on_connected(c, c->connect_error);
	c->ops->on_close(c);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	buf_deinit(&c->in);
	buf_deinit(&c->out);
	free(c);
}

void
conn_abort(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void
conn_unused_closed(uv_handle_t *h)
{
	free(h->data);
}

/* A conn conn_accept() gives up on: closed and freed without a word to
 * its owner, who frees its session when told NULL (on_close would find
 * that session freed). */
static void
conn_discard(struct conn *c)
{
	buf_deinit(&c->in);
	buf_deinit(&c->out);
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, conn_unused_closed);
}

struct conn *
conn_accept(uv_stream_t *server, const struct conn_ops *ops, void *ctx,
    size_t in_max)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	int len, r;

	c->ops = ops;
	c->ctx = ctx;
	buf_init(&c->in, in_max);
	buf_init(&c->out, CONN_OUT_MAX);
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	if ((r = uv_accept(server, (uv_stream_t *)&c->tcp)) != 0) {
		/* Another worker took it. */
		conn_discard(c);
		return NULL;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	len = sizeof(ss);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		addr_to_str(&ss, c->peer_ip, sizeof(c->peer_ip),
		    &c->peer_port);
	len = sizeof(ss);
	if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		addr_to_str(&ss, c->local_ip, sizeof(c->local_ip),
		    &c->local_port);
	if ((r = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc,
	    conn_on_read)) != 0) {
		log_warnx("event=read-start-failed error=%s", uv_strerror(r));
		conn_discard(c);
		return NULL;
	}
	return c;
}

struct conn_connect_req {
	uv_connect_t	 req;
	struct conn	*c;
};

static void
conn_connected(uv_connect_t *req, int status)
{
	struct conn_connect_req *cr = (struct conn_connect_req *)req;
	struct conn *c = cr->c;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	free(cr);
	if (c->closing)
		return;
	if (status == 0 && uv_tcp_getsockname(&c->tcp,
	    (struct sockaddr *)&ss, &len) == 0)
		addr_to_str(&ss, c->local_ip, sizeof(c->local_ip),
		    &c->local_port);
	if (status == 0 && (status = uv_read_start((uv_stream_t *)&c->tcp,
	    conn_alloc, conn_on_read)) == 0)
		uv_tcp_nodelay(&c->tcp, 1);
	c->ops->on_connected(c, status);
	if (status != 0)
		conn_abort(c);
}

struct conn *
conn_connect(uv_loop_t *loop, const char *ip, uint16_t port,
    const struct conn_ops *ops, void *ctx, size_t in_max)
{
	struct sockaddr_storage ss;
	struct conn_connect_req *cr;
	struct conn *c;
	int r;

	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss) != 0)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->ops = ops;
	c->ctx = ctx;
	buf_init(&c->in, in_max);
	buf_init(&c->out, CONN_OUT_MAX);
	uv_tcp_init(loop, &c->tcp);
	c->tcp.data = c;
	moat_strlcpy(c->peer_ip, ip, sizeof(c->peer_ip));
	c->peer_port = port;
	cr = xcalloc(1, sizeof(*cr));
	cr->c = c;
	if ((r = uv_tcp_connect(&cr->req, &c->tcp, (struct sockaddr *)&ss,
	    conn_connected)) != 0) {
		free(cr);
		/* Report asynchronously like any other failure. */
		c->connect_error = r;
		uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
		c->closing = true;
	}
	return c;
}

static void
conn_write_done(uv_write_t *req, int status)
{
	struct conn_write_req *w = (struct conn_write_req *)req;
	struct conn *c = w->c;

	c->writes_pending--;
	free(w);
	if (status < 0) {
		conn_abort(c);
		return;
	}
	if (c->close_after_flush && c->writes_pending == 0 && c->out.len == 0)
		conn_abort(c);
	else if (!c->closing && c->writes_pending == 0 && c->out.len == 0 &&
	    c->ops->on_drained != NULL)
		c->ops->on_drained(c);
}

/* Send raw bytes (ciphertext under TLS) to the socket. */
static void
conn_send_raw(struct conn *c, const void *p, size_t len)
{
	struct conn_write_req *w;
	uv_buf_t b;
	int r;

	if (c->closing || len == 0)
		return;
	w = xmalloc(sizeof(*w) + len);
	w->c = c;
	w->len = len;
	memcpy(w->data, p, len);
	b = uv_buf_init((char *)w->data, (unsigned)len);
	if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1,
	    conn_write_done)) != 0) {
		free(w);
		conn_abort(c);
		return;
	}
	c->writes_pending++;
}

/* Move whatever OpenSSL produced in the write BIO to the socket. */
static void
conn_tls_send_pending(struct conn *c)
{
	BIO *wbio = SSL_get_wbio(c->ssl);
	char tmp[16384];
	int n;

	while ((n = BIO_read(wbio, tmp, sizeof(tmp))) > 0)
		conn_send_raw(c, tmp, (size_t)n);
}

void
conn_write(struct conn *c, const void *p, size_t len)
{
	if (buf_append(&c->out, p, len) < 0) {
		log_warnx("event=output-overflow peer=%s", c->peer_ip);
		conn_abort(c);
	}
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (r < 0) {
		log_warnx("event=output-overflow peer=%s", c->peer_ip);
		conn_abort(c);
	}
}

void
conn_flush(struct conn *c)
{
	if (c->closing || c->out.len == 0)
		return;
	if (c->ssl == NULL) {
		conn_send_raw(c, c->out.data, c->out.len);
		buf_reset(&c->out);
		return;
	}
	if (!c->tls_ready)
		return;		/* sent once the handshake completes */
	while (c->out.len > 0) {
		int n = SSL_write(c->ssl, c->out.data,
		    c->out.len > INT32_MAX ? INT32_MAX : (int)c->out.len);

		if (n <= 0) {
			ERR_clear_error();
			conn_abort(c);
			return;
		}
		buf_consume(&c->out, (size_t)n);
	}
	conn_tls_send_pending(c);
}

void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	conn_flush(c);
	if (c->closing)
		return;
	if (c->ssl != NULL && c->tls_ready) {
		SSL_shutdown(c->ssl);
		conn_tls_send_pending(c);
	}
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (c->writes_pending == 0)
		conn_abort(c);
	else
		c->close_after_flush = true;
}

void
conn_pause(struct conn *c)
{
	if (c->paused || c->closing)
		return;
	c->paused = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
}

void
conn_resume(struct conn *c)
{
	if (!c->paused || c->closing)
		return;
	c->paused = false;
	if (!c->eof && uv_read_start((uv_stream_t *)&c->tcp, conn_alloc,
	    conn_on_read) != 0) {
		conn_abort(c);
		return;
	}
	/* Input that arrived while paused is still waiting: decrypted data
	 * inside OpenSSL, or plaintext already in conn->in. */
	if (c->ssl != NULL && c->tls_ready)
		conn_tls_pump(c);
	if (!c->closing && !c->paused && c->in.len > 0)
		c->ops->on_input(c);
}

int
conn_start_tls_client(struct conn *c, SSL_CTX *ctx, const char *sni)
{
	if (conn_start_tls(c, ctx) < 0)
		return -1;
	SSL_set_connect_state(c->ssl);
	if (sni != NULL && SSL_set_tlsext_host_name(c->ssl, sni) != 1) {
		ERR_clear_error();
		return -1;
	}
	/* The client speaks first: send the ClientHello now. */
	conn_tls_pump(c);
	return 0;
}

int
conn_start_tls(struct conn *c, SSL_CTX *ctx)
{
	BIO *rbio, *wbio;

	/* Anything the client sent behind STARTTLS was plaintext injected
	 * before the handshake: it must never be interpreted. */
	buf_reset(&c->in);
	conn_flush(c);
	c->ssl = SSL_new(ctx);
	rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || rbio == NULL || wbio == NULL) {
		BIO_free(rbio);
		BIO_free(wbio);
		ERR_clear_error();
		return -1;
	}
	SSL_set_bio(c->ssl, rbio, wbio);
	SSL_set_accept_state(c->ssl);
	return 0;
}

/* Push decrypted data to conn->in and drive the handshake. */
static void
conn_tls_pump(struct conn *c)
{
	char tmp[16384];
	int n, err;
	bool got = false;

	if (!c->tls_ready) {
		n = SSL_do_handshake(c->ssl);
		conn_tls_send_pending(c);
		if (n != 1) {
			err = SSL_get_error(c->ssl, n);
			if (err == SSL_ERROR_WANT_READ ||
			    err == SSL_ERROR_WANT_WRITE)
				return;
			log_info("event=tls-failed peer=%s error=%s",
			    c->peer_ip, ERR_reason_error_string(
			    ERR_peek_error()) ? ERR_reason_error_string(
			    ERR_peek_error()) : "handshake");
			ERR_clear_error();
			c->ops->on_tls(c, false);
			conn_abort(c);
			return;
		}
		c->tls_ready = true;
		c->ops->on_tls(c, true);
		if (c->closing)
			return;
		conn_flush(c);
	}
	while (!c->closing) {
		n = SSL_read(c->ssl, tmp, sizeof(tmp));
		if (n <= 0) {
			err = SSL_get_error(c->ssl, n);
			conn_tls_send_pending(c);
			if (err == SSL_ERROR_WANT_READ ||
			    err == SSL_ERROR_WANT_WRITE)
				break;
			ERR_clear_error();
			/* close_notify or a protocol error */
			c->eof = true;
			break;
		}
		got = true;
		if (buf_append(&c->in, tmp, (size_t)n) < 0) {
			c->in_overflow = true;
			break;
		}
	}
	if ((got || c->in_overflow) && !c->closing)
		c->ops->on_input(c);
	if (c->eof && !c->closing)
		conn_abort(c);
}

static void
conn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (buf->base == read_scratch)
		read_scratch_busy = false;
	if (n == 0 || c->closing)
		return;
	if (n < 0) {
		c->eof = true;
		conn_abort(c);
		return;
	}
	if (c->ssl != NULL) {
		BIO *rbio = SSL_get_rbio(c->ssl);

		if (BIO_write(rbio, buf->base, (int)n) != (int)n) {
			conn_abort(c);
			return;
		}
		conn_tls_pump(c);
		return;
	}
	if (buf_append(&c->in, buf->base, (size_t)n) < 0)
		c->in_overflow = true;
	c->ops->on_input(c);
}
