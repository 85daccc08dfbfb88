/* pop3_session: the POP3 server state machine (RFC 1939).
 *
 * Input arrives in conn->in; commands are framed with smtp_line_next()
 * (255 octets incl CRLF, RFC 2449 4; CRLF strict), dispatched through one
 * table holding the states each command is allowed in, and answered into
 * conn->out, flushed when the input runs dry (PIPELINING, RFC 2449 6.6).
 * Anything slow (password checks, opening and syncing the maildrop,
 * expunging at QUIT) runs in libuv's thread pool while the session stops
 * reading; RETR and TOP stream the message file in chunks.
 *
 * SECURITY: every octet from the client is untrusted. Lines are bounded
 * before they are parsed, commands and errors per session are limited,
 * plaintext passwords are refused before TLS unless the [auth]
 * cleartext_loopback rule allows them, and the maildrop is the one of
 * the authenticated account only (the name comes from the SASL layer,
 * lower-cased, and maildir_path() refuses unsafe components). */
#include "pop3_session.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "screen.h"
#include "session.h"
#include "mailbox.h"
#include "smtp_parser.h"
#include "util.h"
#include "xalloc.h"
#include "pop3_session_private.h"

static const char *const state_names[POP3_STATE_COUNT] = {
	"tls-wait", "authorization", "auth", "busy", "transaction",
	"sending", "closed",
};

#define S(x) (1u << POP3_STATE_##x)
#define AUTHZ S(AUTHORIZATION)
#define TRANS S(TRANSACTION)

typedef void pop3_handler(struct pop3_session *s, const char *args,
    size_t len);

struct pop3_cmd_def {
	enum pop3_cmd	 cmd;
	unsigned	 states;	/* allowed states; else -ERR */
	pop3_handler	*handler;
};

static void pop3_process(struct pop3_session *s);
static void pop3_on_input(struct conn *c);
static void pop3_on_tls(struct conn *c, bool ok);
static void pop3_on_close(struct conn *c);
static void pop3_on_drained(struct conn *c);
static void pop3_on_timeout(uv_timer_t *t);
static void pop3_drain(struct session *ss);
static void pop3_abort(struct session *ss);

static const struct conn_ops pop3_conn_ops = {
	.on_input = pop3_on_input,
	.on_tls = pop3_on_tls,
	.on_close = pop3_on_close,
	.on_drained = pop3_on_drained,
};

static const struct session_class pop3_class = {
	.name = "pop3",
	.state_names = state_names,
	.conn_ops = &pop3_conn_ops,
	.in_max = POP3_IN_MAX,
	.on_timeout = pop3_on_timeout,
	.drain = pop3_drain,
	.abort = pop3_abort,
};
_Static_assert(offsetof(struct pop3_session, base) == 0,
    "session.c frees the pop3_session through its base");

void
pop3_enter_state(struct pop3_session *s, enum pop3_state st)
{
	session_log_state(&s->base, s->state, st);
	s->state = st;
}

bool
pop3_is_tls(const struct pop3_session *s)
{
	return session_is_tls(&s->base);
}

void
pop3_reply(struct pop3_session *s, bool ok, const char *fmt, ...)
{
	char text[POP3_REPLY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text) - 8, fmt, ap);
	va_end(ap);
	if (n < 0)
		text[0] = '\0';
	if (s->base.conn == NULL || s->base.conn_gone)
		return;
	conn_printf(s->base.conn, "%s%s%s\r\n", ok ? "+OK" : "-ERR",
	    text[0] ? " " : "", text);
	log_info("pop3 session=%s cmd=%s reply=%s text=\"%s\"", s->base.id,
	    pop3_cmd_name(s->cur_cmd), ok ? "+OK" : "-ERR", text);
}

/* The idle timer restarts per command ([limits] idle_timeout; RFC 1939 3
 * asks for at least 10 minutes, the admin decides), shortened when the
 * worker is busy. */
void
pop3_timer_arm(struct pop3_session *s)
{
	session_timer_arm(&s->base);
}

void
pop3_close(struct pop3_session *s)
{
	if (s->base.conn_gone || s->state == POP3_STATE_CLOSED)
		return;
	pop3_enter_state(s, POP3_STATE_CLOSED);
	conn_close(s->base.conn);
}

void
pop3_count_error(struct pop3_session *s)
{
	if (++s->nerrors >= s->srv->base.cfg->errors) {
		log_info("pop3 session=%s event=too-many-errors", s->base.id);
		pop3_reply(s, false, "Too many errors, closing connection");
		pop3_close(s);
	}
}

void
pop3_maildrop_release(struct pop3_session *s)
{
	if (s->send_fd >= 0) {
		close(s->send_fd);
		s->send_fd = -1;
	}
	mailbox_msgs_free(&s->msgs, s->nmsgs);
	s->nmsgs = 0;
	free(s->deleted);
	s->deleted = NULL;
	s->ndeleted = 0;
	s->total_size = 0;
	mailbox_close(&s->mb);
	mailbox_pop3_unlock(&s->lock_fd);
}

static void
pop3_greet(struct pop3_session *s)
{
	/* No APOP timestamp: APOP needs the plaintext password on the
	 * server, which we never store. */
	conn_printf(s->base.conn, "+OK %s POP3 moat ready\r\n",
	    s->srv->base.cfg->hostname);
	pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
}

/* ---- AUTHORIZATION and shared commands -------------------------------- */

static void
cmd_capa(struct pop3_session *s, const char *args, size_t len)
{
	char mechs[SASL_MECHS_MAX];

	(void)args;
	if (len != 0) {
		pop3_reply(s, false, "Syntax: CAPA");
		pop3_count_error(s);
		return;
	}
	pop3_reply(s, true, "Capability list follows");
	conn_printf(s->base.conn, "TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
	    "AUTH-RESP-CODE\r\n");
	if (s->state == POP3_STATE_AUTHORIZATION) {
		if (pop3_cleartext_ok(s))
			conn_printf(s->base.conn, "USER\r\n");
		pop3_auth_mechs(s, mechs, sizeof(mechs));
		if (mechs[0] != '\0')
			conn_printf(s->base.conn, "SASL %s\r\n", mechs);
		if (s->srv->base.ssl_ctx != NULL && s->base.conn->ssl == NULL &&
		    s->service == SERVICE_POP3)
			conn_printf(s->base.conn, "STLS\r\n");
	}
	conn_printf(s->base.conn, "IMPLEMENTATION moat\r\n.\r\n");
}

static void
cmd_stls(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	if (len != 0) {
		pop3_reply(s, false, "Syntax: STLS");
		pop3_count_error(s);
		return;
	}
	if (s->srv->base.ssl_ctx == NULL || s->base.conn->ssl != NULL ||
	    s->service != SERVICE_POP3) {
		pop3_reply(s, false, "TLS already active or not available");
		pop3_count_error(s);
		return;
	}
	pop3_reply(s, true, "Begin TLS negotiation");
	/* RFC 2595 4: forget everything learned before TLS; conn discards
	 * any plaintext pipelined behind STLS. */
	s->have_user = false;
	explicit_bzero(s->user, sizeof(s->user));
	pop3_enter_state(s, POP3_STATE_TLS_WAIT);
	if (session_start_tls(&s->base) < 0) {
		log_warnx("pop3 session=%s event=tls-setup-failed", s->base.id);
		pop3_close(s);
	}
}

static void
cmd_apop(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	pop3_reply(s, false, "APOP not supported");
	pop3_count_error(s);
}

static void
cmd_noop(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	if (len != 0) {
		pop3_reply(s, false, "Syntax: NOOP");
		pop3_count_error(s);
		return;
	}
	pop3_reply(s, true, "%s", "");
}

static void
cmd_quit(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	(void)len;
	s->quit = true;
	if (s->state == POP3_STATE_TRANSACTION) {
		pop3_update(s);
		return;
	}
	pop3_reply(s, true, "Bye");
	pop3_close(s);
}

static const struct pop3_cmd_def pop3_cmds[] = {
	{ POP3_CMD_CAPA, AUTHZ | TRANS, cmd_capa },
	{ POP3_CMD_STLS, AUTHZ, cmd_stls },
	{ POP3_CMD_USER, AUTHZ, pop3_cmd_user },
	{ POP3_CMD_PASS, AUTHZ, pop3_cmd_pass },
	{ POP3_CMD_AUTH, AUTHZ, pop3_cmd_auth },
	{ POP3_CMD_APOP, AUTHZ, cmd_apop },
	{ POP3_CMD_QUIT, AUTHZ | TRANS, cmd_quit },
	{ POP3_CMD_STAT, TRANS, pop3_cmd_stat },
	{ POP3_CMD_LIST, TRANS, pop3_cmd_list },
	{ POP3_CMD_UIDL, TRANS, pop3_cmd_uidl },
	{ POP3_CMD_RETR, TRANS, pop3_cmd_retr },
	{ POP3_CMD_TOP, TRANS, pop3_cmd_top },
	{ POP3_CMD_DELE, TRANS, pop3_cmd_dele },
	{ POP3_CMD_NOOP, TRANS, cmd_noop },
	{ POP3_CMD_RSET, TRANS, pop3_cmd_rset },
};

static void
pop3_dispatch(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_command cmd;
	size_t i;

	s->cur_cmd = POP3_CMD_UNKNOWN;
	if (++s->ncommands > s->srv->base.cfg->commands) {
		log_info("pop3 session=%s event=too-many-commands", s->base.id);
		pop3_reply(s, false, "Too many commands, closing connection");
		pop3_close(s);
		return;
	}
	pop3_timer_arm(s);
	pop3_parse_command(line, len, &cmd);
	s->cur_cmd = cmd.cmd;
	for (i = 0; i < sizeof(pop3_cmds) / sizeof(pop3_cmds[0]); i++) {
		const struct pop3_cmd_def *d = &pop3_cmds[i];

		if (d->cmd != cmd.cmd)
			continue;
		if ((d->states & (1u << s->state)) == 0) {
			pop3_reply(s, false, "%s not allowed in this state",
			    pop3_cmd_name(cmd.cmd));
			pop3_count_error(s);
			return;
		}
		d->handler(s, cmd.args, cmd.argslen);
		return;
	}
	{
		char esc[64];

		log_escape(esc, sizeof(esc), line, len < 20 ? len : 20);
		log_info("pop3 session=%s event=unknown-command line=\"%s\"",
		    s->base.id, esc);
	}
	pop3_reply(s, false, "Unknown command");
	pop3_count_error(s);
}

/* ---- input loop -------------------------------------------------------- */

static bool
pop3_idle_state(const struct pop3_session *s)
{
	return s->state == POP3_STATE_AUTHORIZATION ||
	    s->state == POP3_STATE_TRANSACTION;
}

/* Draining: a session waiting for a command ends now (without UPDATE). */
static void
pop3_drain_check(struct pop3_session *s)
{
	if (!s->srv->base.draining || s->base.conn_gone || !pop3_idle_state(s))
		return;
	s->cur_cmd = POP3_CMD_UNKNOWN;
	pop3_reply(s, false, "[SYS/TEMP] Server shutting down");
	pop3_close(s);
}

static void
pop3_process(struct pop3_session *s)
{
	struct conn *c = s->base.conn;

	pop3_drain_check(s);
	while (!s->base.conn_gone && !c->closing && !c->paused && !s->busy &&
	    (pop3_idle_state(s) || s->state == POP3_STATE_AUTH)) {
		size_t linelen = 0;
		enum smtp_line_result r;

		if (c->in.len == 0)
			break;
		if (s->state == POP3_STATE_AUTH) {
			/* A SASL response: longer than a command may be
			 * (RFC 5034 4). */
			char *line = xmalloc(SASL_RESPONSE_MAX + 2);

			r = smtp_line_take(&c->in, SASL_RESPONSE_MAX + 2,
			    &s->discard_line, line, &linelen);
			if (r == SMTP_LINE_OK)
				pop3_auth_line(s, line, linelen);
			explicit_bzero(line, SASL_RESPONSE_MAX + 2);
			free(line);
			if (r == SMTP_LINE_NEED_MORE)
				break;
			if (r != SMTP_LINE_OK) {
				sasl_free(&s->sasl);
				pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
				pop3_reply(s, false, "Authentication exchange "
				    "line is too long");
				pop3_count_error(s);
			}
			continue;
		}
		{
			/* Copied out: STLS resets the input under it, and
			 * PASS wipes it. */
			char line[POP3_LINE_MAX];

			r = smtp_line_take(&c->in, POP3_LINE_MAX,
			    &s->discard_line, line, &linelen);
			if (r == SMTP_LINE_NEED_MORE)
				break;
			if (r == SMTP_LINE_OK) {
				pop3_dispatch(s, line, linelen);
				explicit_bzero(line, linelen);
				continue;
			}
			s->cur_cmd = POP3_CMD_UNKNOWN;
			log_info("pop3 session=%s event=bad-line reason=%s",
			    s->base.id, r == SMTP_LINE_TOO_LONG ? "too-long" :
			    "bare-lf");
			if (r == SMTP_LINE_TOO_LONG)
				pop3_reply(s, false, "Line too long");
			else
				pop3_reply(s, false, "Lines must end in CRLF");
			pop3_count_error(s);
		}
	}
	if (c->in_overflow && !c->closing) {
		s->cur_cmd = POP3_CMD_UNKNOWN;
		pop3_reply(s, false, "Too much pipelined input");
		pop3_close(s);
	}
	if (!s->base.conn_gone)
		conn_flush(c);
}

void
pop3_session_resume(struct pop3_session *s)
{
	if (s->base.conn_gone)
		return;
	pop3_timer_arm(s);
	/* conn_resume runs the input loop if needed */
	if (s->base.conn->paused)
		conn_resume(s->base.conn);
	pop3_process(s);
}

static void
pop3_on_input(struct conn *c)
{
	pop3_process(c->ctx);
}

static void
pop3_on_drained(struct conn *c)
{
	struct pop3_session *s = c->ctx;

	if (s->state == POP3_STATE_SENDING)
		pop3_send_more(s);
}

static void
pop3_on_tls(struct conn *c, bool ok)
{
	struct pop3_session *s = c->ctx;

	if (!ok)
		return;
	session_log_tls(&s->base);
	if (s->service == SERVICE_POP3S && s->ncommands == 0)
		pop3_greet(s);	/* implicit TLS: greet once encrypted */
	else
		pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
	conn_flush(c);
}

void
pop3_free(struct pop3_session *s)
{
	pop3_maildrop_release(s);
	sasl_free(&s->sasl);
	explicit_bzero(s->user, sizeof(s->user));
	session_free(&s->base);
}

static void
pop3_on_close(struct conn *c)
{
	struct pop3_session *s = c->ctx;

	log_info("pop3 session=%s event=disconnect%s commands=%u", s->base.id,
	    s->quit ? "" : " reason=peer-or-error", s->ncommands);
	session_conn_gone(&s->base);
	if (s->busy)
		return;		/* freed when that step ends */
	pop3_free(s);
}

static void
pop3_on_timeout(uv_timer_t *t)
{
	struct pop3_session *s = t->data;

	if (s->busy || s->base.conn_gone)
		return;
	session_log_timeout(&s->base, s->state);
	s->cur_cmd = POP3_CMD_UNKNOWN;
	pop3_reply(s, false, "Idle timeout, closing connection");
	pop3_close(s);
}

void
pop3_session_accept(struct pop3_server *srv, uv_stream_t *listener,
    enum listen_service service)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	char text[320];

	s->srv = srv;
	s->service = service;
	s->lock_fd = -1;
	s->send_fd = -1;
	if (session_accept(&s->base, &pop3_class, &srv->base, listener,
	    service, &s->auth_timer) < 0) {
		free(s);
		return;
	}
	pop3_timer_arm(s);
	if (session_server_full(&srv->base)) {
		conn_printf(s->base.conn, "-ERR [SYS/TEMP] Too many "
		    "connections, try again later\r\n");
		pop3_enter_state(s, POP3_STATE_CLOSED);
		conn_close(s->base.conn);
		return;
	}
	if (screen_session_refused(srv->base.screen, service, s->base.id,
	    s->base.conn->peer_ip, text, sizeof(text))) {
		if (service != SERVICE_POP3S)
			conn_printf(s->base.conn, "-ERR [SYS/PERM] %s\r\n",
			    text);
		pop3_enter_state(s, POP3_STATE_CLOSED);
		conn_close(s->base.conn);
		return;
	}
	if (service == SERVICE_POP3S) {
		pop3_enter_state(s, POP3_STATE_TLS_WAIT);
		if (session_start_tls(&s->base) < 0)
			pop3_close(s);
		return;
	}
	pop3_greet(s);
	conn_flush(s->base.conn);
}

/* Draining: a handshake is cut off; a session waiting for a command
 * ends now. */
static void
pop3_drain(struct session *ss)
{
	struct pop3_session *s = (struct pop3_session *)ss;

	if (s->state == POP3_STATE_TLS_WAIT) {
		conn_abort(ss->conn);
		return;
	}
	pop3_drain_check(s);
	if (!ss->conn_gone)
		conn_flush(ss->conn);
}

static void
pop3_abort(struct session *ss)
{
	struct pop3_session *s = (struct pop3_session *)ss;

	if (s->busy)
		return;
	s->cur_cmd = POP3_CMD_UNKNOWN;
	pop3_reply(s, false, "[SYS/TEMP] Server shutting down");
	pop3_close(s);
}
