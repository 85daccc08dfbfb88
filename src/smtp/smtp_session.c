/* smtp_session: the SMTP server state machine (RFC 5321).
 *
 * Input arrives in conn->in; commands are framed with smtp_line_next()
 * (512 octets, CRLF strict), dispatched through one table that holds the
 * states each command is allowed in, and answered into conn->out, which is
 * flushed when the input runs dry (PIPELINING, RFC 2920) or before the
 * session waits. Message content goes through the smtp_data reader (no
 * bare CR/LF, dot-unstuffing, size and line limits) into one buffer that
 * queue_commit makes durable before "250" is sent. */
#include "smtp_session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cidr.h"
#include "conn.h"
#include "log.h"
#include "queue.h"
#include "queue_commit.h"
#include "session.h"
#include "smtp_data.h"
#include "smtp_parser.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"
#include "smtp_session_private.h"
#include "reject_log.h"

static const char *const state_names[SMTP_STATE_COUNT] = {
	"tls-wait", "init", "ready", "mail", "rcpt", "data", "bdat",
	"queueing", "auth", "closed",
};

#define S(x) (1u << SMTP_STATE_##x)
#define ANY_CMD_STATE (S(INIT) | S(READY) | S(MAIL) | S(RCPT))

struct smtp_session;
typedef void smtp_handler(struct smtp_session *s, const char *args,
    size_t len);

struct smtp_cmd_def {
	enum smtp_cmd	 cmd;
	unsigned	 states;	/* allowed states; else 503 */
	smtp_handler	*handler;
};


static void smtp_process(struct smtp_session *s);
static void smtp_on_input(struct conn *c);
static void smtp_on_tls(struct conn *c, bool ok);
static void smtp_on_close(struct conn *c);
static void smtp_on_timeout(uv_timer_t *t);
static void smtp_drain(struct session *ss);
static void smtp_abort(struct session *ss);

static const struct conn_ops smtp_conn_ops = {
	.on_input = smtp_on_input,
	.on_tls = smtp_on_tls,
	.on_close = smtp_on_close,
};

static const struct session_class smtp_class = {
	.name = "smtp",
	.state_names = state_names,
	.conn_ops = &smtp_conn_ops,
	.in_max = SMTP_IN_MAX,
	.on_timeout = smtp_on_timeout,
	.drain = smtp_drain,
	.abort = smtp_abort,
};
_Static_assert(offsetof(struct smtp_session, base) == 0,
    "session.c frees the smtp_session through its base");

void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	session_log_state(&s->base, s->state, st);
	s->state = st;
}

bool
smtp_is_tls(const struct smtp_session *s)
{
	return session_is_tls(&s->base);
}

/* Record a rejection in the rejected-session log (written from the
 * thread pool), with the session's trace under its reference. */
void
smtp_log_reject(struct smtp_session *s, int code, const char *text)
{
	struct store_reject rej = {
		.time = time(NULL),
		.session = s->base.id,
		.service = config_service_name(s->service),
		.ip = s->base.conn ? s->base.conn->peer_ip : NULL,
		.rdns = s->rdns[0] ? s->rdns : NULL,
		.helo = s->helo[0] ? s->helo : NULL,
		.mail_from = s->state >= SMTP_STATE_MAIL ? s->from : NULL,
		.rcpt_to = s->last_rcpt[0] ? s->last_rcpt : NULL,
		.code = code,
		.rule = s->reject_rule,
		.reason = text,
		.ref = s->ref,
		.shadow = s->reject_shadow,
	};

	s->reject_rule = NULL;
	s->reject_shadow = false;
	if (rej.rule != NULL)
		reject_log_line(&rej);
	/* Bounded per session: a client sending 10,000 refused RCPTs must
	 * not turn into 10,000 database writes. */
	if (++s->nrejects > SMTP_REJECT_LOG_MAX)
		return;
	trace_add(&s->trace, "reply", "%d %s%s%s", code, text,
	    rej.rule ? " rule=" : "", rej.rule ? rej.rule : "");
	reject_log_submit(s->srv->base.loop, s->srv->base.cfg->data_dir, &rej,
	    &s->trace);
}

static void smtp_reply_v(struct smtp_session *s, int code, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
smtp_reply_v(struct smtp_session *s, int code, const char *fmt, va_list ap)
{
	char text[SMTP_REPLY_MAX];
	int n;

	n = vsnprintf(text, sizeof(text) - 8 - TRACE_REF_LEN - 8, fmt, ap);
	if (n < 0)
		text[0] = '\0';
	if (s->base.conn == NULL || s->base.conn_gone)
		return;
	if (code >= 400) {
		/* The reference a sender can quote to the postmaster. */
		size_t l = strlen(text);

		(void)snprintf(text + l, sizeof(text) - l, " [ref %s]",
		    s->ref);
	}
	conn_printf(s->base.conn, "%d %s\r\n", code, text);
	log_info("smtp session=%s reply=%d text=\"%s\"", s->base.id, code,
	    text);
	if (code >= 400)
		smtp_log_reject(s, code, text);
}

/* Queue one reply line. text starts with the enhanced status code. */
void
smtp_reply(struct smtp_session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reply_v(s, code, fmt, ap);
	va_end(ap);
}

void
smtp_refuse(struct smtp_session *s, const char *rule, int code,
    const char *fmt, ...)
{
	va_list ap;

	s->reject_rule = rule;
	va_start(ap, fmt);
	smtp_reply_v(s, code, fmt, ap);
	va_end(ap);
	s->reject_rule = NULL;
}

/* RFC 5321 4.5.3.2 timeouts, shortened when the worker is busy so idle
 * connections cannot starve real clients. */
void
smtp_timer_arm(struct smtp_session *s)
{
	session_timer_arm(&s->base);
}

void
smtp_close(struct smtp_session *s)
{
	if (s->base.conn_gone || s->state == SMTP_STATE_CLOSED)
		return;
	smtp_enter_state(s, SMTP_STATE_CLOSED);
	conn_close(s->base.conn);
}

/* Count a client error; past the limit, say so and hang up. */
void
smtp_count_error(struct smtp_session *s)
{
	if (++s->nerrors >= s->srv->base.cfg->errors) {
		smtp_reply(s, 421, "4.7.0 %s Error: too many errors",
		    s->srv->base.cfg->hostname);
		smtp_close(s);
	}
}

void
smtp_tx_reset(struct smtp_session *s)
{
	size_t i;

	smtp_authn_reset(s);
	smtp_filter_reset(s);
	s->quarantine = false;
	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	memset(&s->mail, 0, sizeof(s->mail));
	s->from[0] = '\0';
	s->last_rcpt[0] = '\0';
	s->bdat_seen = false;
	s->bdat_left = 0;
	s->bdat_last = false;
	s->bdat_discard = false;
	s->qid[0] = '\0';
	buf_deinit(&s->msg);
	buf_deinit(&s->env);
	if (s->state > SMTP_STATE_READY && s->state < SMTP_STATE_CLOSED)
		smtp_enter_state(s, SMTP_STATE_READY);
}

void
smtp_greet(struct smtp_session *s)
{
	conn_printf(s->base.conn, "220 %s ESMTP moat\r\n",
	    s->srv->base.cfg->hostname);
	smtp_enter_state(s, SMTP_STATE_INIT);
}

/* ---- command handlers ------------------------------------------------ */

static bool
valid_helo(const char *args, size_t len)
{
	size_t i;

	if (len == 0 || len > SMTP_HELO_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)args[i];

		/* One word of printable ASCII or UTF-8: RFC 5321 wants a
		 * domain or address literal, and the greeting is logged. */
		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static void
smtp_helo_common(struct smtp_session *s, const char *args, size_t len,
    bool esmtp)
{
	const struct config *cfg = s->srv->base.cfg;

	if (!valid_helo(args, len)) {
		smtp_reply(s, 501, "5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		smtp_count_error(s);
		return;
	}
	smtp_tx_reset(s);
	memcpy(s->helo, args, len);
	s->helo[len] = '\0';
	if (smtp_screen_helo(s)) {
		s->helo[0] = '\0';
		return;
	}
	s->esmtp = esmtp;
	smtp_enter_state(s, SMTP_STATE_READY);
	if (!esmtp) {
		smtp_reply(s, 250, "%s", cfg->hostname);
		return;
	}
	/* Multi-line reply; enhanced codes are not used on EHLO lines
	 * (RFC 2034 3 exempts the EHLO response). */
	conn_printf(s->base.conn, "250-%s\r\n", cfg->hostname);
	conn_printf(s->base.conn, "250-PIPELINING\r\n");
	conn_printf(s->base.conn, "250-SIZE %" PRIu64 "\r\n", cfg->message_size);
	if (s->srv->base.ssl_ctx != NULL && s->base.conn->ssl == NULL &&
	    s->service != SERVICE_SUBMISSIONS)
		conn_printf(s->base.conn, "250-STARTTLS\r\n");
	conn_printf(s->base.conn, "250-ENHANCEDSTATUSCODES\r\n");
	conn_printf(s->base.conn, "250-8BITMIME\r\n");
	smtp_auth_ehlo(s);
	conn_printf(s->base.conn, "250-SMTPUTF8\r\n");
	conn_printf(s->base.conn, "250 CHUNKING\r\n");
	log_info("smtp session=%s cmd=EHLO helo=\"%.100s\" reply=250",
	    s->base.id, s->helo);
}

static void
cmd_helo(struct smtp_session *s, const char *args, size_t len)
{
	smtp_helo_common(s, args, len, false);
}

static void
cmd_ehlo(struct smtp_session *s, const char *args, size_t len)
{
	smtp_helo_common(s, args, len, true);
}









static void
cmd_rset(struct smtp_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	smtp_tx_reset(s);
	smtp_reply(s, 250, "2.0.0 Ok");
}

static void
cmd_noop(struct smtp_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	smtp_reply(s, 250, "2.0.0 Ok");
}

static void
cmd_quit(struct smtp_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	smtp_reply(s, 221, "2.0.0 Bye");
	s->quit = true;
	smtp_close(s);
}

static void
cmd_help(struct smtp_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	smtp_reply(s, 214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT HELP VRFY STARTTLS");
}

static void
cmd_vrfy(struct smtp_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	/* RFC 5321 3.5.3: reveal nothing, promise nothing. */
	smtp_reply(s, 252, "2.5.0 Cannot VRFY user, but will accept message "
	    "and attempt delivery");
}

static void
cmd_starttls(struct smtp_session *s, const char *args, size_t len)
{
	(void)args;
	if (len != 0) {
		smtp_reply(s, 501, "5.5.4 Syntax: STARTTLS");
		smtp_count_error(s);
		return;
	}
	if (s->srv->base.ssl_ctx == NULL || s->base.conn->ssl != NULL ||
	    s->service == SERVICE_SUBMISSIONS) {
		smtp_reply(s, 503, "5.5.1 Error: TLS already active or not "
		    "available");
		smtp_count_error(s);
		return;
	}
	smtp_reply(s, 220, "2.0.0 Ready to start TLS");
	/* RFC 3207 4.2: forget everything learned before TLS. */
	smtp_tx_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	smtp_enter_state(s, SMTP_STATE_TLS_WAIT);
	if (session_start_tls(&s->base) < 0) {
		log_warnx("smtp session=%s event=tls-setup-failed", s->base.id);
		smtp_close(s);
	}
}

static const struct smtp_cmd_def smtp_cmds[] = {
	{ SMTP_CMD_HELO, ANY_CMD_STATE, cmd_helo },
	{ SMTP_CMD_EHLO, ANY_CMD_STATE, cmd_ehlo },
	{ SMTP_CMD_MAIL, S(READY), cmd_mail },
	{ SMTP_CMD_RCPT, S(MAIL) | S(RCPT), cmd_rcpt },
	{ SMTP_CMD_DATA, S(READY) | S(MAIL) | S(RCPT), cmd_data },
	{ SMTP_CMD_BDAT, S(READY) | S(MAIL) | S(RCPT), cmd_bdat },
	{ SMTP_CMD_RSET, ANY_CMD_STATE, cmd_rset },
	{ SMTP_CMD_NOOP, ANY_CMD_STATE, cmd_noop },
	{ SMTP_CMD_QUIT, ANY_CMD_STATE, cmd_quit },
	{ SMTP_CMD_HELP, ANY_CMD_STATE, cmd_help },
	{ SMTP_CMD_VRFY, ANY_CMD_STATE, cmd_vrfy },
	{ SMTP_CMD_EXPN, ANY_CMD_STATE, cmd_vrfy },
	{ SMTP_CMD_STARTTLS, S(INIT) | S(READY), cmd_starttls },
	{ SMTP_CMD_AUTH, S(READY), cmd_auth },
};

static const char *
bad_sequence_text(struct smtp_session *s, enum smtp_cmd cmd)
{
	if (s->state == SMTP_STATE_INIT)
		return "5.5.1 Error: send HELO/EHLO first";
	switch (cmd) {
	case SMTP_CMD_MAIL:
		return "5.5.1 Error: nested MAIL command";
	case SMTP_CMD_RCPT:
		return "5.5.1 Error: need MAIL command";
	case SMTP_CMD_STARTTLS:
		return "5.5.1 Error: STARTTLS not allowed during a transaction";
	default:
		return "5.5.1 Error: bad sequence of commands";
	}
}

static void
smtp_dispatch(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command cmd;
	size_t i;

	if (++s->ncommands > s->srv->base.cfg->commands) {
		smtp_reply(s, 421, "4.7.0 %s Error: too many commands",
		    s->srv->base.cfg->hostname);
		smtp_close(s);
		return;
	}
	/* The idle timer restarts per command, not per byte: a client
	 * trickling one byte at a time is still cut off. */
	smtp_timer_arm(s);
	smtp_parse_command(line, len, &cmd);
	if (cmd.cmd != SMTP_CMD_EHLO && cmd.cmd != SMTP_CMD_UNKNOWN)
		log_debug("smtp session=%s cmd=%s", s->base.id,
		    smtp_cmd_name(cmd.cmd));
	for (i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++) {
		const struct smtp_cmd_def *d = &smtp_cmds[i];

		if (d->cmd != cmd.cmd)
			continue;
		if ((d->states & (1u << s->state)) == 0) {
			smtp_reply(s, 503, "%s", bad_sequence_text(s, cmd.cmd));
			if (!smtp_screen_event(s, DYNCFG_PROTO_ERROR))
				smtp_count_error(s);
			return;
		}
		d->handler(s, cmd.args, cmd.argslen);
		return;
	}
	{
		char esc[64];

		log_escape(esc, sizeof(esc), line, len < 20 ? len : 20);
		log_info("smtp session=%s event=unknown-command line=\"%s\"",
		    s->base.id, esc);
	}
	smtp_reply(s, 500, "5.5.1 Error: command not recognized");
	if (!smtp_screen_event(s, DYNCFG_PROTO_ERROR))
		smtp_count_error(s);
}

/* ---- message end and queueing ---------------------------------------- */

void smtp_free(struct smtp_session *s);






/* ---- input loop -------------------------------------------------------- */

/* When draining starts, a session that is between transactions ends at
 * once; one in the middle of a transaction may finish its whole session
 * (until the drain timeout). */
static void
smtp_drain_check(struct smtp_session *s)
{
	if (!s->srv->base.draining || s->base.conn_gone ||
	    (s->state != SMTP_STATE_INIT && s->state != SMTP_STATE_READY))
		return;
	smtp_reply(s, 421, "4.3.2 %s Service shutting down",
	    s->srv->base.cfg->hostname);
	smtp_close(s);
}

static void
smtp_process(struct smtp_session *s)
{
	struct conn *c = s->base.conn;

	/* A step finished inside the loop (a refusal at the end of DATA
	 * with nothing to wait for) resumes the session from within it;
	 * the outer loop goes on once the input it is on is consumed. */
	if (s->processing)
		return;
	s->processing = true;

	while (!s->base.conn_gone && !c->closing && !c->paused &&
	    s->state != SMTP_STATE_CLOSED && s->state != SMTP_STATE_TLS_WAIT &&
	    s->state != SMTP_STATE_QUEUEING) {
		size_t linelen = 0;
		enum smtp_line_result r;

		if (s->state == SMTP_STATE_BDAT && s->bdat_left == 0) {
			smtp_feed_bdat(s, NULL, 0);	/* "BDAT 0 LAST" */
			continue;
		}
		if (c->in.len == 0)
			break;
		if (s->state == SMTP_STATE_DATA) {
			buf_consume(&c->in, smtp_feed_data(s, c->in.data,
			    c->in.len));
			continue;
		}
		if (s->state == SMTP_STATE_BDAT) {
			buf_consume(&c->in, smtp_feed_bdat(s, c->in.data,
			    c->in.len));
			continue;
		}
		if (s->state == SMTP_STATE_AUTH) {
			/* A SASL response, with its own (larger) limit. */
			char *line = xmalloc(SASL_RESPONSE_MAX + 2);

			r = smtp_line_take(&c->in, SASL_RESPONSE_MAX + 2,
			    &s->discard_line, line, &linelen);
			if (r == SMTP_LINE_OK)
				smtp_auth_line(s, line, linelen);
			explicit_bzero(line, SASL_RESPONSE_MAX + 2);
			free(line);
			if (r == SMTP_LINE_NEED_MORE)
				break;
			if (r != SMTP_LINE_OK) {
				sasl_free(&s->sasl);
				smtp_enter_state(s, SMTP_STATE_READY);
				smtp_reply(s, 500, "5.5.6 Authentication "
				    "exchange line is too long");
				smtp_count_error(s);
			}
			continue;
		}
		{
			/* Copied out, since STARTTLS may reset the input
			 * buffer under it. */
			char line[SMTP_LINE_MAX];

			r = smtp_line_take(&c->in, SMTP_LINE_MAX,
			    &s->discard_line, line, &linelen);
			if (r == SMTP_LINE_NEED_MORE)
				break;
			if (r == SMTP_LINE_OK) {
				smtp_dispatch(s, line, linelen);
				continue;
			}
			if (r == SMTP_LINE_TOO_LONG)
				smtp_reply(s, 500, "5.5.2 Error: line too long");
			else
				smtp_reply(s, 500, "5.5.2 Error: bare <LF> "
				    "received; lines must end in <CR><LF>");
			smtp_count_error(s);
		}
	}
	if (c->in_overflow && !c->closing) {
		/* Only reachable if a single read outgrew SMTP_IN_MAX. */
		smtp_reply(s, 500, "5.5.2 Error: too much pipelined input");
		smtp_close(s);
	}
	s->processing = false;
	if (!s->base.conn_gone)
		conn_flush(c);
}

void
smtp_session_resume(struct smtp_session *s)
{
	if (s->base.conn_gone)
		return;
	smtp_timer_arm(s);
	/* conn_resume runs the input loop if needed */
	if (s->base.conn->paused)
		conn_resume(s->base.conn);
	else
		smtp_process(s);
}

static void
smtp_on_input(struct conn *c)
{
	struct smtp_session *s = c->ctx;

	smtp_process(s);
}

static void
smtp_on_tls(struct conn *c, bool ok)
{
	struct smtp_session *s = c->ctx;

	if (!ok)
		return;
	session_log_tls(&s->base);
	if (s->service == SERVICE_SUBMISSIONS && s->ncommands == 0)
		smtp_greet(s);	/* implicit TLS: greet once encrypted */
	else
		smtp_enter_state(s, SMTP_STATE_INIT);
}

void
smtp_free(struct smtp_session *s)
{
	smtp_tx_reset(s);
	sasl_free(&s->sasl);
	trace_free(&s->trace);
	session_free(&s->base);
}

static void
smtp_on_close(struct conn *c)
{
	struct smtp_session *s = c->ctx;

	log_info("smtp session=%s event=disconnect%s commands=%u", s->base.id,
	    s->quit ? "" : " reason=peer-or-error", s->ncommands);
	session_conn_gone(&s->base);
	if (s->committing || s->auth_busy || s->filtering)
		return;		/* freed when that step ends */
	smtp_screen_abort(s);
	smtp_filter_abort(s);
	smtp_free(s);
}

static void
smtp_on_timeout(uv_timer_t *t)
{
	struct smtp_session *s = t->data;

	if (s->committing || s->base.conn_gone)
		return;
	session_log_timeout(&s->base, s->state);
	smtp_reply(s, 421, "4.4.2 %s Error: timeout exceeded",
	    s->srv->base.cfg->hostname);
	smtp_close(s);
}

void
smtp_session_accept(struct smtp_server *srv, uv_stream_t *listener,
    enum listen_service service)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->service = service;
	if (session_accept(&s->base, &smtp_class, &srv->base, listener,
	    service, &s->auth_timer) < 0) {
		free(s);
		return;
	}
	trace_ref(s->base.id, s->ref);
	smtp_timer_arm(s);
	if (session_server_full(&srv->base)) {
		conn_printf(s->base.conn, "421 4.7.0 %s Error: too many "
		    "connections, try again later\r\n",
		    srv->base.cfg->hostname);
		smtp_enter_state(s, SMTP_STATE_CLOSED);
		conn_close(s->base.conn);
		return;
	}
	/* Nothing is read while the greeting is held (state TLS_WAIT). */
	smtp_enter_state(s, SMTP_STATE_TLS_WAIT);
	if (!smtp_screen_connect(s))
		return;
	if (service == SERVICE_SUBMISSIONS) {
		if (session_start_tls(&s->base) < 0)
			smtp_close(s);
		return;
	}
	smtp_greet(s);
	conn_flush(s->base.conn);
}

/* Draining: a handshake is cut off; see smtp_drain_check for the rest. */
static void
smtp_drain(struct session *ss)
{
	struct smtp_session *s = (struct smtp_session *)ss;

	if (s->state == SMTP_STATE_TLS_WAIT)
		conn_abort(ss->conn);
	else
		smtp_drain_check(s);
}

static void
smtp_abort(struct session *ss)
{
	struct smtp_session *s = (struct smtp_session *)ss;

	if (s->committing)
		return;
	smtp_reply(s, 421, "4.3.2 %s Service shutting down",
	    ss->srv->cfg->hostname);
	smtp_close(s);
}
