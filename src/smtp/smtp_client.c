/* smtp_client: the outbound SMTP client state machine.
 *
 * Replies are read line by line from conn->in with a bounded line length
 * and line count; each final line completes one reply, which is matched
 * against the queue of commands sent (several at once when the server
 * offers PIPELINING, RFC 2920). Message content is sent with BDAT when
 * the server offers CHUNKING (no dot-stuffing needed), else with DATA and
 * dot-stuffing (RFC 5321 4.5.2). */
#include "smtp_client.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "conn.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "xalloc.h"

#define CLIENT_IN_MAX (256 * 1024)	/* buffered reply input */
#define CLIENT_LINE_MAX 4096		/* one reply line */
#define CLIENT_REPLY_LINES_MAX 200	/* lines in one reply */

enum client_state {
	CL_CONNECTING = 0,
	CL_GREETING,
	CL_EHLO,
	CL_HELO,
	CL_STARTTLS,
	CL_TLS,
	CL_AUTH,
	CL_READY,
	CL_TRANSACTION,		/* MAIL/RCPT/DATA or BDAT replies pending */
	CL_BODY,		/* body sent after 354, final reply pending */
	CL_RSET,
	CL_QUIT,
	CL_CLOSED,
};

enum pending_cmd { P_MAIL, P_RCPT, P_DATA, P_BDAT };

struct smtp_client {
	uv_loop_t		*loop;
	struct conn		*conn;
	struct smtp_client_opts	 opts;
	struct smtp_client_cbs	 cbs;
	void			*ctx;
	enum client_state	 state;
	uv_timer_t		 timer;
	char			 host[256];
	char			 helo[256];
	char			 user[128];
	char			 pass[256];
	char			 tls_info[160];

	/* server extensions */
	bool			 esmtp;
	bool			 pipelining;
	bool			 chunking;
	bool			 eightbitmime;
	bool			 smtputf8;
	bool			 starttls;
	bool			 auth_plain;
	uint64_t		 size_max;	/* 0: not announced */

	/* reply being read */
	int			 reply_code;
	unsigned		 reply_lines;
	char			 reply_text[SMTP_CLIENT_TEXT_MAX];

	/* message in flight */
	struct smtp_client_msg	*msg;
	enum pending_cmd	*pending;	/* replies expected, in order */
	size_t			 npending;
	size_t			 next_reply;
	size_t			 next_rcpt;	/* rcpt index of the next reply */
	bool			 mail_ok;
	size_t			 accepted;	/* rcpts accepted */
	bool			 tx_clean;	/* no RSET needed */

	struct smtp_client_result err;	/* why the connection ended */
	bool			 closing;
};

static void client_on_input(struct conn *c);
static void client_on_tls(struct conn *c, bool ok);
static void client_on_close(struct conn *c);
static void client_on_connected(struct conn *c, int status);

static const struct conn_ops client_conn_ops = {
	.on_input = client_on_input,
	.on_tls = client_on_tls,
	.on_close = client_on_close,
	.on_connected = client_on_connected,
};

SSL_CTX *
smtp_client_tls_ctx_new(char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* Verification is decided per connection by policy; the result is
	 * always computed against the system trust store. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();	/* no store: everything unverified */
	return ctx;
}

bool
smtp_client_ready(const struct smtp_client *cl)
{
	return !cl->closing && cl->state == CL_READY;
}

const char *
smtp_client_tls_info(const struct smtp_client *cl)
{
	return cl->tls_info[0] ? cl->tls_info : "none";
}

static void
set_result(struct smtp_client_result *r, int code, bool perm,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
set_result(struct smtp_client_result *r, int code, bool perm,
    const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	r->perm = perm;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* End the connection; every recipient without a result gets err. */
static void
client_fail(struct smtp_client *cl, int code, bool perm, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
client_fail(struct smtp_client *cl, int code, bool perm, const char *fmt, ...)
{
	va_list ap;

	if (cl->closing)
		return;
	cl->closing = true;
	cl->err.code = code;
	cl->err.perm = perm;
	va_start(ap, fmt);
	vsnprintf(cl->err.text, sizeof(cl->err.text), fmt, ap);
	va_end(ap);
	uv_timer_stop(&cl->timer);
	if (cl->conn != NULL)
		conn_abort(cl->conn);
}

static void
client_send(struct smtp_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
client_send(struct smtp_client *cl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		client_fail(cl, 0, false, "command too long");
		return;
	}
	conn_write(cl->conn, line, (size_t)n);
}

static void
client_on_timeout(uv_timer_t *t)
{
	struct smtp_client *cl = t->data;

	client_fail(cl, 0, false, "timeout waiting for %s",
	    cl->state == CL_CONNECTING ? "connection" : "server reply");
}

static void
client_wait(struct smtp_client *cl, unsigned secs)
{
	uv_timer_start(&cl->timer, client_on_timeout, (uint64_t)secs * 1000,
	    0);
}

static void
client_ehlo(struct smtp_client *cl)
{
	cl->esmtp = cl->pipelining = cl->chunking = cl->eightbitmime = false;
	cl->smtputf8 = cl->starttls = cl->auth_plain = false;
	cl->size_max = 0;
	cl->state = CL_EHLO;
	client_send(cl, "EHLO %s\r\n", cl->helo);
	conn_flush(cl->conn);
}

/* Record an EHLO keyword line (without the "250-"). */
static void
client_ehlo_line(struct smtp_client *cl, const char *kw)
{
	if (ascii_ieq(kw, "PIPELINING"))
		cl->pipelining = true;
	else if (ascii_ieq(kw, "CHUNKING"))
		cl->chunking = true;
	else if (ascii_ieq(kw, "8BITMIME"))
		cl->eightbitmime = true;
	else if (ascii_ieq(kw, "SMTPUTF8"))
		cl->smtputf8 = true;
	else if (ascii_ieq(kw, "STARTTLS"))
		cl->starttls = true;
	else if (ascii_nieq(kw, "SIZE ", 5)) {
		const char *error;
		uint64_t v;

		if (parse_u64(kw + 5, 0, UINT64_MAX, &v, &error) == 0)
			cl->size_max = v;
	} else if (ascii_nieq(kw, "AUTH ", 5) || ascii_nieq(kw, "AUTH=", 5)) {
		const char *p = kw + 5;

		while (*p != '\0') {
			size_t len = strcspn(p, " ");

			if (len == 5 && ascii_nieq(p, "PLAIN", 5))
				cl->auth_plain = true;
			p += len;
			while (*p == ' ')
				p++;
		}
	}
}

static void client_ready(struct smtp_client *cl);

static void
client_auth(struct smtp_client *cl)
{
	unsigned char raw[400], b64[560];
	size_t ulen = strlen(cl->user), plen = strlen(cl->pass);
	int n;

	if (cl->conn->ssl == NULL) {
		client_fail(cl, 0, false, "refusing to send credentials to %s "
		    "without TLS", cl->host);
		return;
	}
	if (!cl->auth_plain) {
		client_fail(cl, 0, false, "%s does not offer AUTH PLAIN",
		    cl->host);
		return;
	}
	if (ulen + plen + 2 > sizeof(raw)) {
		client_fail(cl, 0, true, "credentials too long");
		return;
	}
	/* RFC 4616: authzid NUL authcid NUL passwd, authzid empty */
	raw[0] = '\0';
	memcpy(raw + 1, cl->user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, cl->pass, plen);
	n = EVP_EncodeBlock(b64, raw, (int)(ulen + plen + 2));
	explicit_bzero(raw, sizeof(raw));
	if (n < 0) {
		client_fail(cl, 0, false, "base64 failed");
		return;
	}
	cl->state = CL_AUTH;
	client_send(cl, "AUTH PLAIN %s\r\n", (char *)b64);
	explicit_bzero(b64, sizeof(b64));
	conn_flush(cl->conn);
}

static void
client_after_ehlo(struct smtp_client *cl)
{
	bool tls = cl->conn->ssl != NULL;

	if (!tls && cl->opts.tls != TLS_POLICY_NONE && cl->starttls) {
		cl->state = CL_STARTTLS;
		client_send(cl, "STARTTLS\r\n");
		conn_flush(cl->conn);
		return;
	}
	if (!tls && cl->opts.tls == TLS_POLICY_VERIFY) {
		client_fail(cl, 0, false, "TLS is required for %s but "
		    "STARTTLS is not offered", cl->host);
		return;
	}
	if (cl->user[0] != '\0') {
		client_auth(cl);
		return;
	}
	client_ready(cl);
}

static void
client_ready(struct smtp_client *cl)
{
	cl->state = CL_READY;
	uv_timer_stop(&cl->timer);
	cl->cbs.ready(cl->ctx, cl);
}

/* ---- message transaction ---------------------------------------------- */

static void
client_msg_done(struct smtp_client *cl)
{
	struct smtp_client_msg *m = cl->msg;

	if (!cl->tx_clean && cl->state != CL_RSET) {
		/* The server may still hold a transaction: reset it before
		 * the message counts as done (results are final). */
		cl->state = CL_RSET;
		client_send(cl, "RSET\r\n");
		conn_flush(cl->conn);
		client_wait(cl, cl->opts.timeout);
		return;
	}
	cl->msg = NULL;
	free(cl->pending);
	cl->pending = NULL;
	cl->npending = 0;
	cl->state = CL_READY;
	uv_timer_stop(&cl->timer);
	cl->cbs.sent(cl->ctx, cl, m);
}

/* Give every recipient still without a result r. */
static void
client_fill_results(struct smtp_client *cl, const struct smtp_client_result
    *r, bool only_accepted)
{
	size_t i;

	if (cl->msg == NULL)
		return;
	for (i = 0; i < cl->msg->nrcpts; i++) {
		struct smtp_client_result *res = &cl->msg->results[i];

		if (only_accepted ? res->code / 100 == 2 && res->code != 0 :
		    res->code == 0)
			*res = *r;
	}
}

/* Send the body after 354, dot-stuffed, ending with CRLF.CRLF. */
static void
client_send_stuffed(struct smtp_client *cl)
{
	const uint8_t *p = cl->msg->data, *end = p + cl->msg->len;
	bool bol = true;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (bol && *p == '.')
			conn_write(cl->conn, ".", 1);
		conn_write(cl->conn, p, n);
		bol = nl != NULL;
		p += n;
	}
	if (!bol)
		conn_write(cl->conn, "\r\n", 2);	/* never mid-line */
	conn_write(cl->conn, ".\r\n", 3);
	conn_flush(cl->conn);
}

/* Queue the commands of the transaction; send all of them at once when
 * pipelining, else the first one. */
static void
client_send_next(struct smtp_client *cl)
{
	struct smtp_client_msg *m = cl->msg;
	size_t i = cl->next_reply, upto = cl->pipelining ? cl->npending :
	    cl->next_reply + 1;

	for (; i < upto; i++) {
		switch (cl->pending[i]) {
		case P_MAIL: {
			char size[32] = "";

			if (cl->size_max != 0)
				snprintf(size, sizeof(size), " SIZE=%zu",
				    m->len);
			client_send(cl, "MAIL FROM:<%s>%s%s%s\r\n", m->from,
			    size, m->eightbit && cl->eightbitmime ?
			    " BODY=8BITMIME" : "", m->smtputf8 ?
			    " SMTPUTF8" : "");
			break;
		}
		case P_RCPT:
			client_send(cl, "RCPT TO:<%s>\r\n", m->rcpts[i - 1]);
			break;
		case P_DATA:
			client_send(cl, "DATA\r\n");
			break;
		case P_BDAT:
			client_send(cl, "BDAT %zu LAST\r\n", m->len);
			conn_write(cl->conn, m->data, m->len);
			break;
		}
	}
	conn_flush(cl->conn);
	client_wait(cl, cl->opts.timeout);
}

void
smtp_client_send(struct smtp_client *cl, struct smtp_client_msg *msg)
{
	size_t i;

	if (cl->state != CL_READY || cl->closing)
		fatalx("smtp_client_send in state %d", cl->state);
	for (i = 0; i < msg->nrcpts; i++)
		memset(&msg->results[i], 0, sizeof(msg->results[i]));
	cl->msg = msg;
	if (msg->smtputf8 && !cl->smtputf8) {
		struct smtp_client_result r;

		set_result(&r, 553, true, "5.6.7 %s does not support "
		    "SMTPUTF8 and the message needs it", cl->host);
		client_fill_results(cl, &r, false);
		client_msg_done(cl);
		return;
	}
	if (cl->size_max != 0 && msg->len > cl->size_max) {
		struct smtp_client_result r;

		set_result(&r, 552, true, "5.3.4 message size %zu exceeds "
		    "the limit of %" PRIu64 " at %s", msg->len, cl->size_max,
		    cl->host);
		client_fill_results(cl, &r, false);
		client_msg_done(cl);
		return;
	}
	cl->npending = msg->nrcpts + 2;
	cl->pending = xreallocarray(NULL, cl->npending, sizeof(*cl->pending));
	cl->pending[0] = P_MAIL;
	for (i = 0; i < msg->nrcpts; i++)
		cl->pending[i + 1] = P_RCPT;
	cl->pending[msg->nrcpts + 1] = cl->chunking ? P_BDAT : P_DATA;
	cl->next_reply = 0;
	cl->mail_ok = false;
	cl->accepted = 0;
	cl->tx_clean = false;
	cl->state = CL_TRANSACTION;
	client_send_next(cl);
}

static void
client_reply_result(struct smtp_client *cl, struct smtp_client_result *r)
{
	set_result(r, cl->reply_code, cl->reply_code / 100 == 5, "%d %s",
	    cl->reply_code, cl->reply_text);
}

static void
client_transaction_reply(struct smtp_client *cl)
{
	struct smtp_client_result r;
	enum pending_cmd what;
	size_t idx = cl->next_reply;

	if (idx >= cl->npending) {
		client_fail(cl, 0, false, "unexpected reply from %s", cl->host);
		return;
	}
	what = cl->pending[idx];
	cl->next_reply++;
	client_reply_result(cl, &r);
	switch (what) {
	case P_MAIL:
		cl->mail_ok = cl->reply_code / 100 == 2;
		if (!cl->mail_ok)
			client_fill_results(cl, &r, false);
		if (!cl->mail_ok && !cl->pipelining) {
			cl->tx_clean = true;	/* nothing was started */
			client_msg_done(cl);
			return;
		}
		break;
	case P_RCPT:
		if (cl->mail_ok) {
			cl->msg->results[idx - 1] = r;
			if (cl->reply_code / 100 == 2)
				cl->accepted++;
		}
		break;
	case P_DATA:
		if (cl->reply_code == 354 && cl->accepted > 0) {
			cl->state = CL_BODY;
			client_send_stuffed(cl);
			client_wait(cl, cl->opts.timeout);
			return;
		}
		if (cl->reply_code == 354) {
			/* No recipient took it: send an empty message and
			 * ignore the answer (RFC 2920 3.1). */
			conn_write(cl->conn, ".\r\n", 3);
			conn_flush(cl->conn);
			cl->state = CL_BODY;
			cl->accepted = 0;
			client_wait(cl, cl->opts.timeout);
			return;
		}
		client_fill_results(cl, &r, true);
		client_msg_done(cl);
		return;
	case P_BDAT:
		if (cl->accepted > 0) {
			client_fill_results(cl, &r, true);
			cl->tx_clean = cl->reply_code / 100 == 2;
		}
		client_msg_done(cl);
		return;
	}
	if (cl->pipelining)
		return;
	if (cl->next_reply == cl->npending - 1 && cl->accepted == 0) {
		/* Every recipient refused: no DATA. */
		client_msg_done(cl);
		return;
	}
	client_send_next(cl);
}

/* ---- reply dispatch ----------------------------------------------------- */

static void
client_reply(struct smtp_client *cl)
{
	int code = cl->reply_code;

	switch (cl->state) {
	case CL_GREETING:
		if (code != 220) {
			client_fail(cl, code, code / 100 == 5,
			    "greeting from %s: %d %s", cl->host, code,
			    cl->reply_text);
			return;
		}
		client_ehlo(cl);
		client_wait(cl, cl->opts.timeout);
		return;
	case CL_EHLO:
		if (code / 100 != 2) {
			cl->state = CL_HELO;
			client_send(cl, "HELO %s\r\n", cl->helo);
			conn_flush(cl->conn);
			return;
		}
		cl->esmtp = true;
		client_after_ehlo(cl);
		return;
	case CL_HELO:
		if (code / 100 != 2) {
			client_fail(cl, code, code / 100 == 5, "HELO "
			    "refused by %s: %d %s", cl->host, code,
			    cl->reply_text);
			return;
		}
		client_after_ehlo(cl);
		return;
	case CL_STARTTLS:
		if (code != 220) {
			if (cl->opts.tls == TLS_POLICY_VERIFY) {
				client_fail(cl, code, false, "STARTTLS "
				    "refused by %s: %d %s", cl->host, code,
				    cl->reply_text);
				return;
			}
			cl->starttls = false;
			client_after_ehlo(cl);
			return;
		}
		cl->state = CL_TLS;
		if (conn_start_tls_client(cl->conn, cl->opts.tls_ctx,
		    cl->host) < 0) {
			client_fail(cl, 0, false, "TLS set-up failed");
			return;
		}
		/* The certificate arrives after our ClientHello, so the name
		 * to check can still be set: it is part of the verify result
		 * logged (may) or enforced (verify). */
		if (SSL_set1_host(cl->conn->ssl, cl->host) != 1)
			ERR_clear_error();
		return;
	case CL_AUTH:
		if (code != 235) {
			client_fail(cl, code, false, "authentication to %s "
			    "failed: %d %s", cl->host, code, cl->reply_text);
			return;
		}
		client_ready(cl);
		return;
	case CL_TRANSACTION:
		client_transaction_reply(cl);
		return;
	case CL_BODY: {
		struct smtp_client_result r;

		client_reply_result(cl, &r);
		if (cl->accepted > 0) {
			client_fill_results(cl, &r, true);
			cl->tx_clean = code / 100 == 2;
		}
		client_msg_done(cl);
		return;
	}
	case CL_RSET:
		if (code / 100 != 2) {
			client_fail(cl, code, false, "RSET refused");
			return;
		}
		cl->tx_clean = true;
		client_msg_done(cl);
		return;
	case CL_QUIT:
		client_fail(cl, 0, false, "closed");
		return;
	default:
		client_fail(cl, 0, false, "unexpected reply in state %d",
		    cl->state);
		return;
	}
}

static void
client_on_input(struct conn *c)
{
	struct smtp_client *cl = c->ctx;

	while (!cl->closing && c->in.len > 0) {
		uint8_t *nl = memchr(c->in.data, '\n', c->in.len);
		size_t len;
		char line[CLIENT_LINE_MAX];
		int code;

		if (nl == NULL) {
			if (c->in.len >= CLIENT_LINE_MAX)
				client_fail(cl, 0, false, "reply line too "
				    "long from %s", cl->host);
			return;
		}
		len = (size_t)(nl - c->in.data);
		if (len > 0 && c->in.data[len - 1] == '\r')
			len--;
		if (len >= sizeof(line)) {
			client_fail(cl, 0, false, "reply line too long");
			return;
		}
		memcpy(line, c->in.data, len);
		line[len] = '\0';
		buf_consume(&c->in, (size_t)(nl - c->in.data) + 1);
		if (len < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (len > 3 && line[3] != ' ' &&
		    line[3] != '-')) {
			client_fail(cl, 0, false, "malformed reply from %s",
			    cl->host);
			return;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (cl->reply_lines > 0 && code != cl->reply_code) {
			client_fail(cl, 0, false, "inconsistent reply codes "
			    "from %s", cl->host);
			return;
		}
		if (++cl->reply_lines > CLIENT_REPLY_LINES_MAX) {
			client_fail(cl, 0, false, "reply too long");
			return;
		}
		cl->reply_code = code;
		if (cl->state == CL_EHLO && cl->reply_lines > 1 && len > 4)
			client_ehlo_line(cl, line + 4);
		if (len > 3 && line[3] == '-')
			continue;
		log_escape(cl->reply_text, sizeof(cl->reply_text),
		    len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0);
		cl->reply_lines = 0;
		client_reply(cl);
	}
}

static void
client_on_tls(struct conn *c, bool ok)
{
	struct smtp_client *cl = c->ctx;
	long vr;

	if (!ok) {
		client_fail(cl, 0, false, "TLS handshake with %s failed",
		    cl->host);
		return;
	}
	vr = SSL_get_verify_result(c->ssl);
	if (tls_describe(c->ssl, cl->tls_info, sizeof(cl->tls_info)) < 0)
		moat_strlcpy(cl->tls_info, "TLS", sizeof(cl->tls_info));
	log_info("smtp-out host=%s event=tls %s verify=%s", cl->host,
	    cl->tls_info, vr == X509_V_OK ? "ok" :
	    X509_verify_cert_error_string(vr));
	if (cl->opts.tls == TLS_POLICY_VERIFY && vr != X509_V_OK) {
		client_fail(cl, 0, false, "certificate of %s not verified: %s",
		    cl->host, X509_verify_cert_error_string(vr));
		return;
	}
	if (cl->opts.implicit_tls) {
		cl->state = CL_GREETING;
		client_wait(cl, cl->opts.timeout);
		return;
	}
	/* RFC 3207 4.2: start over with EHLO. */
	client_ehlo(cl);
	client_wait(cl, cl->opts.timeout);
}

static void
client_on_connected(struct conn *c, int status)
{
	struct smtp_client *cl = c->ctx;

	if (status != 0) {
		client_fail(cl, 0, false, "connect to %s [%s]:%u: %s",
		    cl->host, c->peer_ip, (unsigned)c->peer_port,
		    uv_strerror(status));
		return;
	}
	if (cl->opts.implicit_tls) {
		cl->state = CL_TLS;
		if (conn_start_tls_client(c, cl->opts.tls_ctx, cl->host) < 0) {
			client_fail(cl, 0, false, "TLS set-up failed");
			return;
		}
		if (SSL_set1_host(c->ssl, cl->host) != 1)
			ERR_clear_error();
		client_wait(cl, cl->opts.timeout);
		return;
	}
	cl->state = CL_GREETING;
	client_wait(cl, cl->opts.timeout);
}

static void
client_timer_closed(uv_handle_t *h)
{
	struct smtp_client *cl = h->data;

	explicit_bzero(cl->pass, sizeof(cl->pass));
	free(cl->pending);
	free(cl);
}

static void
client_on_close(struct conn *c)
{
	struct smtp_client *cl = c->ctx;

	cl->conn = NULL;
	if (!cl->closing) {
		cl->closing = true;
		set_result(&cl->err, 0, false, "connection to %s lost",
		    cl->host);
	}
	uv_timer_stop(&cl->timer);
	if (cl->msg != NULL) {
		struct smtp_client_msg *m = cl->msg;

		client_fill_results(cl, &cl->err, false);
		/* A message that got its final reply is done; otherwise the
		 * accepted recipients are unknown: retry them. */
		if (cl->state == CL_TRANSACTION || cl->state == CL_BODY)
			client_fill_results(cl, &cl->err, true);
		cl->msg = NULL;
		cl->cbs.sent(cl->ctx, cl, m);
	}
	cl->state = CL_CLOSED;
	cl->cbs.closed(cl->ctx, cl, &cl->err);
	uv_close((uv_handle_t *)&cl->timer, client_timer_closed);
}

struct smtp_client *
smtp_client_new(uv_loop_t *loop, const char *ip, uint16_t port,
    const struct smtp_client_opts *opts, const struct smtp_client_cbs *cbs,
    void *ctx)
{
	struct smtp_client *cl = xcalloc(1, sizeof(*cl));

	cl->loop = loop;
	cl->opts = *opts;
	cl->cbs = *cbs;
	cl->ctx = ctx;
	moat_strlcpy(cl->host, opts->host, sizeof(cl->host));
	moat_strlcpy(cl->helo, opts->helo, sizeof(cl->helo));
	if (opts->auth_user != NULL) {
		moat_strlcpy(cl->user, opts->auth_user, sizeof(cl->user));
		moat_strlcpy(cl->pass, opts->auth_pass ? opts->auth_pass : "",
		    sizeof(cl->pass));
	}
	cl->opts.host = cl->host;
	cl->opts.helo = cl->helo;
	uv_timer_init(loop, &cl->timer);
	cl->timer.data = cl;
	cl->state = CL_CONNECTING;
	cl->conn = conn_connect(loop, ip, port, &client_conn_ops, cl,
	    CLIENT_IN_MAX);
	if (cl->conn == NULL) {
		free(cl);
		return NULL;
	}
	client_wait(cl, opts->connect_timeout);
	return cl;
}

void
smtp_client_quit(struct smtp_client *cl)
{
	if (cl->closing || cl->conn == NULL)
		return;
	if (cl->state != CL_READY) {
		client_fail(cl, 0, false, "closed");
		return;
	}
	cl->state = CL_QUIT;
	client_send(cl, "QUIT\r\n");
	conn_close(cl->conn);
	cl->closing = true;
	set_result(&cl->err, 0, false, "closed");
}
