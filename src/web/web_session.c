/* web_session: one HTTPS request per connection on the web listener, for
 * the RFC 8058 one-click unsubscribe URL (see web_session.h).
 *
 * The URL is the one list_expand.c writes: [lists] web_url, then
 * "?list=LIST&token=TOKEN" ('&' instead of '?' when web_url has a
 * query). The path of the request must be web_url's path.
 *
 * SECURITY: every octet from the client is untrusted. The request is read
 * by web_parser into fixed buffers with named limits, under one total
 * deadline (slow clients get 408); the token is a 128-bit random value
 * per member and list, and only a POST with the one-click body acts on
 * it (RFC 8058 3: a GET, as sent by link scanners, changes nothing).
 * Nothing from the request is reflected in an answer; every answer
 * carries a Content-Security-Policy that forbids any active content.
 * The token is a capability: it is never logged. */
#include "web_session.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "screen.h"
#include "session.h"
#include "store.h"
#include "store_list.h"
#include "util.h"
#include "web_form.h"
#include "web_parser.h"
#include "xalloc.h"

/* Input buffer: a whole request fits (line + header block + body). */
#define WEB_IN_MAX		(WEB_REQUEST_LINE_MAX + \
	WEB_HEADER_BLOCK_MAX + WEB_BODY_MAX + 1024)
#define WEB_REQUEST_TIMEOUT_S	30	/* whole request, from connect */
#define WEB_PATH_MAX		512	/* of [lists] web_url */
#define WEB_HEAD_MAX		1024	/* our response header */

enum web_state {
	WEB_STATE_TLS_WAIT = 0,	/* handshake */
	WEB_STATE_READING,	/* the request */
	WEB_STATE_BUSY,		/* store call in the thread pool */
	WEB_STATE_CLOSED,	/* answered (or dropped) */
	WEB_STATE_COUNT
};

static const char *const state_names[WEB_STATE_COUNT] = {
	"tls-wait", "reading", "busy", "closed",
};

struct web_session {
	struct session		 base;		/* first: see session.h */
	enum web_state		 state;
	bool			 busy;
	struct web_parser	 parser;
	/* the store call */
	uv_work_t		 work;
	bool			 remove;	/* POST: unsubscribe */
	char			 list[LIST_ADDR_MAX + 1];
	char			 token[LIST_TOKEN_LEN + 1];
	char			 member[LIST_ADDR_MAX + 1];
	int			 found;		/* 1, 0, -1 error */
};
_Static_assert(offsetof(struct web_session, base) == 0,
    "session.c frees the web_session through its base");

static const char page_confirm[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<meta name=\"robots\" content=\"noindex\">"
	"<title>Unsubscribe</title></head>\n"
	"<body><h1>Unsubscribe</h1>\n"
	"<p>Press the button to stop receiving messages from this "
	"mailing list.</p>\n"
	"<form method=\"post\">"
	"<input type=\"hidden\" name=\"List-Unsubscribe\" "
	"value=\"One-Click\">"
	"<button type=\"submit\">Unsubscribe</button></form>\n"
	"</body></html>\n";

static const char page_done[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<meta name=\"robots\" content=\"noindex\">"
	"<title>Unsubscribed</title></head>\n"
	"<body><h1>Unsubscribed</h1>\n"
	"<p>You will receive no more messages from this mailing list."
	"</p>\n</body></html>\n";

static void web_on_input(struct conn *c);
static void web_on_tls(struct conn *c, bool ok);
static void web_on_close(struct conn *c);
static void web_on_timeout(uv_timer_t *t);
static void web_drain(struct session *ss);
static void web_abort(struct session *ss);

static const struct conn_ops web_conn_ops = {
	.on_input = web_on_input,
	.on_tls = web_on_tls,
	.on_close = web_on_close,
};

static const struct session_class web_class = {
	.name = "web",
	.state_names = state_names,
	.conn_ops = &web_conn_ops,
	.in_max = WEB_IN_MAX,
	.on_timeout = web_on_timeout,
	.drain = web_drain,
	.abort = web_abort,
};

static void
web_enter_state(struct web_session *s, enum web_state st)
{
	session_log_state(&s->base, s->state, st);
	s->state = st;
}

static void
web_close(struct web_session *s)
{
	if (s->base.conn_gone || s->state == WEB_STATE_CLOSED)
		return;
	web_enter_state(s, WEB_STATE_CLOSED);
	uv_timer_stop(&s->base.timer);
	conn_close(s->base.conn);
}

/* The one answer of the session, then close. body is ours (static), never
 * built from the request. */
static void
web_respond(struct web_session *s, int status, const char *ctype,
    const char *body)
{
	const struct web_request *r = &s->parser.req;
	char head[WEB_HEAD_MAX];
	size_t blen = strlen(body);
	int n;

	if (s->base.conn_gone || s->state == WEB_STATE_CLOSED)
		return;
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n"
	    "Cache-Control: no-store\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "%s"
	    "\r\n", status, web_status_text(status), ctype, blen,
	    status == 405 ? "Allow: GET, HEAD, POST\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		fatalx("web: response header does not fit");
	conn_write(s->base.conn, head, (size_t)n);
	if (r->method != WEB_METHOD_HEAD || s->parser.state !=
	    WEB_PARSE_DONE)
		conn_write(s->base.conn, body, blen);
	log_info("web session=%s event=response method=%s status=%d",
	    s->base.id, r->method_name[0] != '\0' ? r->method_name : "-",
	    status);
	web_close(s);
}

static void
web_error(struct web_session *s, int status)
{
	char body[64];

	snprintf(body, sizeof(body), "%d %s\n", status,
	    web_status_text(status));
	web_respond(s, status, "text/plain; charset=utf-8", body);
}

/* The path of [lists] web_url ("https://host:port/PATH?query" -> /PATH):
 * 0, or -1 when there is none to serve. */
static int
web_url_path(const char *url, char *out, size_t outlen)
{
	const char *p, *q;
	size_t n;

	if (url[0] == '\0' || (p = strstr(url, "://")) == NULL)
		return -1;
	p += 3;
	p += strcspn(p, "/?");
	if (*p != '/') {
		moat_strlcpy(out, "/", outlen);
		return 0;
	}
	q = p + strcspn(p, "?#");
	n = (size_t)(q - p);
	if (n + 1 > outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static bool
valid_token(const char *t)
{
	size_t i;

	for (i = 0; t[i] != '\0'; i++)
		if (!((t[i] >= '0' && t[i] <= '9') ||
		    (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return i == LIST_TOKEN_LEN;
}

static void
member_work(uv_work_t *w)
{
	struct web_session *s = w->data;
	const char *error = NULL;
	struct store *st;

	st = store_thread(s->base.srv->cfg->data_dir, &error);
	if (st == NULL) {
		log_warnx("web session=%s event=store-error error=\"%s\"",
		    s->base.id, error ? error : "?");
		s->found = -1;
		return;
	}
	s->found = store_list_member_by_token(st, s->list, s->token,
	    s->remove, s->member, &error);
	if (s->found < 0)
		log_warnx("web session=%s event=store-error error=\"%s\"",
		    s->base.id, error != NULL ? error : "?");
}

static void
member_done(uv_work_t *w, int status)
{
	struct web_session *s = w->data;

	s->busy = false;
	if (status < 0)
		s->found = -1;
	if (s->base.conn_gone) {
		/* on_close came while we worked; it left the freeing to us. */
		session_free(&s->base);
		return;
	}
	if (s->found < 0) {
		web_error(s, 503);
		return;
	}
	if (s->found == 0) {
		web_error(s, 404);
		return;
	}
	if (s->remove) {
		log_info("web session=%s event=unsubscribe list=%s member=%s",
		    s->base.id, s->list, s->member);
		web_respond(s, 200, "text/html; charset=utf-8", page_done);
	} else
		web_respond(s, 200, "text/html; charset=utf-8", page_confirm);
}

/* A complete request: route it. */
static void
web_request(struct web_session *s)
{
	const struct web_request *r = &s->parser.req;
	char path[WEB_PATH_MAX];
	const char *q;
	size_t plen;

	q = strchr(r->target, '?');
	plen = q != NULL ? (size_t)(q - r->target) : strlen(r->target);
	if (web_url_path(s->base.srv->cfg->list_web_url, path,
	    sizeof(path)) < 0 ||
	    plen != strlen(path) || memcmp(r->target, path, plen) != 0) {
		web_error(s, 404);
		return;
	}
	if (r->method == WEB_METHOD_OTHER) {
		web_error(s, 405);
		return;
	}
	if (q == NULL ||
	    web_form_get(q + 1, strlen(q + 1), "list", s->list,
	    sizeof(s->list)) != 1 ||
	    web_form_get(q + 1, strlen(q + 1), "token", s->token,
	    sizeof(s->token)) != 1 || !valid_token(s->token)) {
		web_error(s, 404);
		return;
	}
	s->remove = r->method == WEB_METHOD_POST;
	if (s->remove && !web_form_is_one_click(r->content_type, r->body,
	    r->body_len)) {
		web_error(s, 400);
		return;
	}
	s->busy = true;
	web_enter_state(s, WEB_STATE_BUSY);
	s->work.data = s;
	if (uv_queue_work(s->base.srv->loop, &s->work, member_work,
	    member_done) != 0)
		fatalx("uv_queue_work failed");
}

static void
web_on_input(struct conn *c)
{
	struct web_session *s = c->ctx;
	size_t used;
	int r;

	if (s->state != WEB_STATE_READING) {
		buf_reset(&c->in);	/* after the request: ignored */
		return;
	}
	if (c->in_overflow) {
		/* Input past the buffer was dropped (one TLS record can
		 * hold more than is left): the parser must never see the
		 * bytes around the gap spliced together. The buffer holds
		 * more than a request within the limits, so it is one too
		 * large. */
		buf_reset(&c->in);
		conn_pause(c);
		log_info("web session=%s event=bad-request status=431 "
		    "error=\"input past the buffer\"", s->base.id);
		web_error(s, 431);
		return;
	}
	r = web_parser_feed(&s->parser, c->in.data, c->in.len, &used);
	buf_reset(&c->in);
	if (r == 0)
		return;
	conn_pause(c);
	if (r < 0) {
		log_info("web session=%s event=bad-request status=%d "
		    "error=\"%s\"", s->base.id, s->parser.status,
		    s->parser.error);
		web_error(s, s->parser.status);
		return;
	}
	web_request(s);
}

static void
web_on_tls(struct conn *c, bool ok)
{
	struct web_session *s = c->ctx;

	if (!ok)
		return;
	web_enter_state(s, WEB_STATE_READING);
	if (c->in.len > 0)
		web_on_input(c);
}

static void
web_on_close(struct conn *c)
{
	struct web_session *s = c->ctx;

	log_info("web session=%s event=disconnect", s->base.id);
	session_conn_gone(&s->base);
	if (s->busy)
		return;		/* freed when the store call ends */
	session_free(&s->base);
}

static void
web_on_timeout(uv_timer_t *t)
{
	struct web_session *s = t->data;

	if (s->busy || s->base.conn_gone)
		return;
	session_log_timeout(&s->base, s->state);
	if (s->state == WEB_STATE_READING)
		web_error(s, 408);
	else {
		web_enter_state(s, WEB_STATE_CLOSED);
		conn_abort(s->base.conn);
	}
}

void
web_session_accept(struct web_server *srv, uv_stream_t *listener)
{
	struct web_session *s = xcalloc(1, sizeof(*s));
	const struct config *cfg = srv->base.cfg;
	unsigned secs;
	char text[320];

	web_parser_init(&s->parser);
	if (session_accept(&s->base, &web_class, &srv->base, listener,
	    SERVICE_WEB, NULL) < 0) {
		free(s);
		return;
	}
	/* One deadline for the whole request (slow clients: 408). */
	secs = cfg->idle_timeout < WEB_REQUEST_TIMEOUT_S ?
	    cfg->idle_timeout : WEB_REQUEST_TIMEOUT_S;
	if (srv->base.nsessions >= cfg->busy_sessions &&
	    cfg->busy_timeout < secs)
		secs = cfg->busy_timeout;
	session_timer_start(&s->base, secs);
	if (session_server_full(&srv->base) ||
	    screen_session_refused(srv->base.screen, SERVICE_WEB, s->base.id,
	    s->base.conn->peer_ip, text, sizeof(text)) ||
	    session_start_tls(&s->base) < 0) {
		web_enter_state(s, WEB_STATE_CLOSED);
		conn_abort(s->base.conn);
	}
}

/* Draining: a session still waiting for its request closes now. */
static void
web_drain(struct session *ss)
{
	struct web_session *s = (struct web_session *)ss;

	if (!s->busy && s->state != WEB_STATE_CLOSED) {
		web_enter_state(s, WEB_STATE_CLOSED);
		conn_abort(ss->conn);
	}
}

static void
web_abort(struct session *ss)
{
	struct web_session *s = (struct web_session *)ss;

	if (s->busy)
		return;
	web_enter_state(s, WEB_STATE_CLOSED);
	conn_abort(ss->conn);
}
