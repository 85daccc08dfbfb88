/* imap_session: the IMAP server state machine (RFC 9051, RFC 3501).
 *
 * Input arrives in conn->in; the pure parser (imap_parser.h) frames one
 * command at a time, literals included, under the pre-auth limits until
 * login and the authenticated ones after (the input buffer grows to the
 * APPENDLIMIT then). Commands go through one table holding the states
 * each is allowed in; replies go to conn->out and are flushed when the
 * input runs dry. After most commands in the selected state the mailbox
 * index is synced and the changes other sessions (or delivery, or POP3)
 * made are sent as untagged EXPUNGE/EXISTS/FETCH responses; not after
 * FETCH, STORE and SEARCH, whose sequence numbers must not move
 * (RFC 9051 7.5.1). IDLE (RFC 2177) polls the index every
 * IMAP_IDLE_POLL_MS.
 *
 * Password checks run in libuv's thread pool (imap_cmd_auth.c). Mailbox
 * index and Maildir work runs on the loop: the index is a local SQLite
 * file and a sync is a directory scan; a very large or contended mailbox
 * can stall the worker for that long (a known limit, see README).
 *
 * SECURITY: every octet from the client is untrusted. Lines, literals,
 * argument counts and nesting are bounded by the parser before anything
 * is interpreted, tighter before login; commands and errors per session
 * and sessions per address and per account are limited; FETCH output is
 * produced in chunks, waiting for the socket to drain; plaintext
 * passwords are refused before TLS (LOGINDISABLED) unless [auth]
 * cleartext_loopback allows them for a loopback client; a session only
 * ever touches the Maildir of the account it authenticated as, and
 * folder names are checked before they become paths. */
#include "imap_session.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "screen.h"
#include "session.h"
#include "util.h"
#include "xalloc.h"
#include "imap_session_private.h"
#include "imap_view.h"

#define IMAP_TEXT_MAX		512	/* text of a tagged reply */
#define IMAP_UPDATES_MAX	(64u * 1024 * 1024)

static const char *const state_names[IMAP_STATE_COUNT] = {
	"tls-wait", "not-authenticated", "sasl", "authenticated",
	"selected", "idle", "logout",
};

#define S(x) (1u << IMAP_STATE_##x)
#define ANY (S(NOT_AUTH) | S(AUTH) | S(SELECTED))
#define AUTHED (S(AUTH) | S(SELECTED))
#define SEL S(SELECTED)

/* Command flags. */
#define F_NO_REFRESH	0x01	/* sequence numbers must stay (7.5.1) */

typedef void imap_handler(struct imap_session *s, struct imap_command *c);

struct imap_cmd_def {
	enum imap_cmd	 cmd;
	unsigned	 states;
	unsigned	 flags;
	imap_handler	*handler;
};

static void cmd_idle(struct imap_session *s, struct imap_command *c);
static void cmd_check(struct imap_session *s, struct imap_command *c);

static const struct imap_cmd_def imap_cmds[] = {
	{ IMAP_CMD_CAPABILITY, ANY, 0, imap_cmd_capability },
	{ IMAP_CMD_NOOP, ANY, 0, imap_cmd_noop },
	{ IMAP_CMD_LOGOUT, ANY, 0, imap_cmd_logout },
	{ IMAP_CMD_STARTTLS, S(NOT_AUTH), 0, imap_cmd_starttls },
	{ IMAP_CMD_LOGIN, S(NOT_AUTH), 0, imap_cmd_login },
	{ IMAP_CMD_AUTHENTICATE, S(NOT_AUTH), 0, imap_cmd_authenticate },
	{ IMAP_CMD_ENABLE, AUTHED, 0, imap_cmd_enable },
	{ IMAP_CMD_ID, ANY, 0, imap_cmd_id },
	{ IMAP_CMD_SELECT, AUTHED, 0, imap_cmd_select },
	{ IMAP_CMD_EXAMINE, AUTHED, 0, imap_cmd_select },
	{ IMAP_CMD_CREATE, AUTHED, 0, imap_cmd_create },
	{ IMAP_CMD_DELETE, AUTHED, 0, imap_cmd_delete },
	{ IMAP_CMD_RENAME, AUTHED, 0, imap_cmd_rename },
	{ IMAP_CMD_SUBSCRIBE, AUTHED, 0, imap_cmd_subscribe },
	{ IMAP_CMD_UNSUBSCRIBE, AUTHED, 0, imap_cmd_subscribe },
	{ IMAP_CMD_LIST, AUTHED, 0, imap_cmd_list },
	{ IMAP_CMD_LSUB, AUTHED, 0, imap_cmd_list },
	{ IMAP_CMD_NAMESPACE, AUTHED, 0, imap_cmd_namespace },
	{ IMAP_CMD_STATUS, AUTHED, 0, imap_cmd_status },
	{ IMAP_CMD_APPEND, AUTHED, 0, imap_cmd_append },
	{ IMAP_CMD_IDLE, AUTHED, 0, cmd_idle },
	{ IMAP_CMD_CHECK, SEL, 0, cmd_check },
	{ IMAP_CMD_CLOSE, SEL, 0, imap_cmd_close },
	{ IMAP_CMD_UNSELECT, SEL, 0, imap_cmd_close },
	{ IMAP_CMD_EXPUNGE, SEL, 0, imap_cmd_expunge },
	{ IMAP_CMD_SEARCH, SEL, F_NO_REFRESH, imap_cmd_search },
	{ IMAP_CMD_FETCH, SEL, F_NO_REFRESH, imap_cmd_fetch },
	{ IMAP_CMD_STORE, SEL, F_NO_REFRESH, imap_cmd_store },
	{ IMAP_CMD_COPY, SEL, F_NO_REFRESH, imap_cmd_copy },
	{ IMAP_CMD_MOVE, SEL, 0, imap_cmd_copy },
	{ IMAP_CMD_UID_FETCH, SEL, 0, imap_cmd_fetch },
	{ IMAP_CMD_UID_STORE, SEL, 0, imap_cmd_store },
	{ IMAP_CMD_UID_COPY, SEL, 0, imap_cmd_copy },
	{ IMAP_CMD_UID_MOVE, SEL, 0, imap_cmd_copy },
	{ IMAP_CMD_UID_SEARCH, SEL, 0, imap_cmd_search },
	{ IMAP_CMD_UID_EXPUNGE, SEL, 0, imap_cmd_expunge },
	{ IMAP_CMD_SORT, SEL, F_NO_REFRESH, imap_cmd_sort },
	{ IMAP_CMD_THREAD, SEL, F_NO_REFRESH, imap_cmd_thread },
	{ IMAP_CMD_UID_SORT, SEL, 0, imap_cmd_sort },
	{ IMAP_CMD_UID_THREAD, SEL, 0, imap_cmd_thread },
	{ IMAP_CMD_GETQUOTA, AUTHED, 0, imap_cmd_getquota },
	{ IMAP_CMD_GETQUOTAROOT, AUTHED, 0, imap_cmd_getquotaroot },
	{ IMAP_CMD_SETQUOTA, AUTHED, 0, imap_cmd_setquota },
};

static void imap_process(struct imap_session *s);
static void imap_on_input(struct conn *c);
static void imap_on_tls(struct conn *c, bool ok);
static void imap_on_close(struct conn *c);
static void imap_on_drained(struct conn *c);
static void imap_on_timeout(uv_timer_t *t);
static void imap_drain(struct session *ss);
static void imap_abort(struct session *ss);

static const struct conn_ops imap_conn_ops = {
	.on_input = imap_on_input,
	.on_tls = imap_on_tls,
	.on_close = imap_on_close,
	.on_drained = imap_on_drained,
};

static const struct session_class imap_class = {
	.name = "imap",
	.state_names = state_names,
	.conn_ops = &imap_conn_ops,
	.in_max = IMAP_LINE_MAX_PREAUTH + IMAP_LITERAL_MAX_PREAUTH +
	    IMAP_IN_SLACK,
	.on_timeout = imap_on_timeout,
	.drain = imap_drain,
	.abort = imap_abort,
};
_Static_assert(offsetof(struct imap_session, base) == 0,
    "session.c frees the imap_session through its base");

void
imap_enter_state(struct imap_session *s, enum imap_state st)
{
	session_log_state(&s->base, s->state, st);
	s->state = st;
}

bool
imap_is_tls(const struct imap_session *s)
{
	return session_is_tls(&s->base);
}

uint64_t
imap_now_ms(struct imap_session *s)
{
	return uv_now(s->srv->base.loop);
}

void
imap_capabilities(struct imap_session *s, char *out, size_t outlen)
{
	char mechs[SASL_MECHS_MAX], tmp[64];
	bool preauth = s->state == IMAP_STATE_NOT_AUTH ||
	    s->state == IMAP_STATE_TLS_WAIT || s->state == IMAP_STATE_SASL;

	moat_strlcpy(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE "
	    "IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE "
	    "LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES CONDSTORE QRESYNC "
	    "SORT ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES QUOTA "
	    "QUOTA=RES-STORAGE BINARY STATUS=SIZE", outlen);
	snprintf(tmp, sizeof(tmp), " APPENDLIMIT=%" PRIu64,
	    s->srv->base.cfg->message_size);
	moat_strlcat(out, tmp, outlen);
	if (!preauth)
		return;
	if (s->srv->base.ssl_ctx != NULL && s->base.conn != NULL &&
	    s->base.conn->ssl == NULL && s->service == SERVICE_IMAP)
		moat_strlcat(out, " STARTTLS", outlen);
	if (!imap_cleartext_ok(s))
		moat_strlcat(out, " LOGINDISABLED", outlen);
	imap_auth_mechs(s, mechs, sizeof(mechs));
	if (mechs[0] != '\0') {
		char *p = mechs, *sp;

		for (;;) {
			sp = strchr(p, ' ');
			if (sp != NULL)
				*sp = '\0';
			moat_strlcat(out, " AUTH=", outlen);
			moat_strlcat(out, p, outlen);
			if (sp == NULL)
				break;
			p = sp + 1;
		}
	}
}

static const struct imap_cmd_def *
find_def(enum imap_cmd cmd)
{
	size_t i;

	for (i = 0; i < sizeof(imap_cmds) / sizeof(imap_cmds[0]); i++)
		if (imap_cmds[i].cmd == cmd)
			return &imap_cmds[i];
	return NULL;
}

void
imap_tagged(struct imap_session *s, const char *result, const char *code,
    const char *fmt, ...)
{
	const struct imap_cmd_def *d = find_def(s->cmd);
	char text[IMAP_TEXT_MAX], esc[LOG_ESC_MAX];
	const char *name = imap_cmd_name(s->cmd);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		text[0] = '\0';
	if (s->base.conn == NULL || s->base.conn_gone)
		return;
	if (s->mb != NULL && strcmp(result, "BAD") != 0 &&
	    (d == NULL || (d->flags & F_NO_REFRESH) == 0))
		imap_refresh(s);
	conn_printf(s->base.conn, "%s %s %s%s%s%s\r\n", s->tag, result,
	    code ? "[" : "", code ? code : "", code ? "] " : "", text);
	log_escape(esc, sizeof(esc), s->tag, strlen(s->tag));
	log_info("imap session=%s tag=\"%s\" cmd=%s result=%s%s%s ms=%" PRIu64
	    " text=\"%s\"", s->base.id, esc, name ? name : "-", result,
	    code ? " code=" : "", code ? code : "",
	    imap_now_ms(s) - s->cmd_start_ms, text);
}

void
imap_bad(struct imap_session *s, const char *fmt, ...)
{
	char text[IMAP_TEXT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		text[0] = '\0';
	imap_tagged(s, "BAD", NULL, "%s", text);
	imap_count_error(s);
}

void
imap_parse_failed(struct imap_session *s, const struct imap_parse_error *err)
{
	const char *code = imap_perr_resp_code(err->code);

	imap_tagged(s, "BAD", code, "%s", err->reason ? err->reason :
	    "syntax error");
	imap_count_error(s);
}

void
imap_close(struct imap_session *s)
{
	if (s->base.conn_gone || s->state == IMAP_STATE_LOGOUT)
		return;
	imap_enter_state(s, IMAP_STATE_LOGOUT);
	uv_timer_stop(&s->aux_timer);
	conn_close(s->base.conn);
}

void
imap_count_error(struct imap_session *s)
{
	if (++s->nerrors >= s->srv->base.cfg->errors && !s->base.conn_gone &&
	    s->state != IMAP_STATE_LOGOUT) {
		log_info("imap session=%s event=too-many-errors", s->base.id);
		conn_printf(s->base.conn, "* BYE Too many errors, closing "
		    "connection\r\n");
		imap_close(s);
	}
}

/* Before login [limits] idle_timeout (busy_timeout when the worker is
 * busy); after it 30 minutes (RFC 9051 5.4). */
void
imap_timer_arm(struct imap_session *s)
{
	unsigned secs = session_idle_secs(&s->base);

	if (s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED ||
	    s->state == IMAP_STATE_IDLE)
		secs = IMAP_AUTH_IDLE_SECS;
	session_timer_start(&s->base, secs);
}

void
imap_deselect(struct imap_session *s)
{
	mailbox_msgs_free(&s->msgs, s->nmsgs);
	s->nmsgs = 0;
	/* RFC 9051 6.4.4.1: "$" is empty again for the next mailbox. */
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	free(s->dollar);
	s->dollar = NULL;
	mailbox_close(&s->mb);
	s->folder[0] = '\0';
	if (s->state == IMAP_STATE_SELECTED)
		imap_enter_state(s, IMAP_STATE_AUTH);
}

void
imap_refresh(struct imap_session *s)
{
	struct mailbox_status st;
	struct mailbox_msg *msgs = NULL;
	size_t n = 0;
	const char *error = NULL;
	struct buf out;

	if (s->mb == NULL || s->base.conn_gone)
		return;
	if (mailbox_sync(s->mb, &error) < 0 ||
	    mailbox_status(s->mb, &st, &error) < 0 ||
	    mailbox_list(s->mb, &msgs, &n, &error) < 0) {
		log_warnx("imap session=%s event=refresh-failed error=\"%s\"",
		    s->base.id, error ? error : "-");
		return;
	}
	if (st.uidvalidity != s->uidvalidity) {
		/* The index was rebuilt: UIDs mean something else now. */
		mailbox_msgs_free(&msgs, n);
		log_warnx("imap session=%s event=uidvalidity-changed",
		    s->base.id);
		conn_printf(s->base.conn, "* BYE [UNAVAILABLE] Mailbox index "
		    "rebuilt, please reconnect\r\n");
		imap_close(s);
		return;
	}
	buf_init(&out, IMAP_UPDATES_MAX);
	if (imap_view_updates(s->msgs, s->nmsgs, msgs, n,
	    (s->condstore ? IMAP_VIEW_MODSEQ : 0) |
	    (s->qresync ? IMAP_VIEW_VANISHED : 0), &out) < 0) {
		buf_deinit(&out);
		mailbox_msgs_free(&msgs, n);
		conn_printf(s->base.conn, "* BYE [UNAVAILABLE] Too many "
		    "changes\r\n");
		imap_close(s);
		return;
	}
	if (out.len > 0)
		conn_write(s->base.conn, out.data, out.len);
	buf_deinit(&out);
	mailbox_msgs_free(&s->msgs, s->nmsgs);
	s->msgs = msgs;
	s->nmsgs = n;
}

/* ---- commands kept here ------------------------------------------------ */

static void
idle_poll(uv_timer_t *t)
{
	struct imap_session *s = t->data;

	if (s->base.conn_gone || s->state != IMAP_STATE_IDLE)
		return;
	imap_refresh(s);
	if (!s->base.conn_gone)
		conn_flush(s->base.conn);
}

static void
cmd_idle(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;

	if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	/* Updates so far, then the continuation (RFC 2177 3). */
	imap_refresh(s);
	conn_printf(s->base.conn, "+ idling\r\n");
	imap_enter_state(s, IMAP_STATE_IDLE);
	imap_timer_arm(s);
	if (s->mb != NULL)
		uv_timer_start(&s->aux_timer, idle_poll, IMAP_IDLE_POLL_MS,
		    IMAP_IDLE_POLL_MS);
}

static void
idle_done(struct imap_session *s, struct imap_slice line)
{
	uv_timer_stop(&s->aux_timer);
	imap_enter_state(s, s->mb != NULL ? IMAP_STATE_SELECTED :
	    IMAP_STATE_AUTH);
	s->cmd_start_ms = imap_now_ms(s);
	if (!imap_line_is_done(line)) {
		imap_bad(s, "Expected DONE");
		return;
	}
	imap_tagged(s, "OK", NULL, "IDLE terminated");
}

static void
cmd_check(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;

	if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	imap_tagged(s, "OK", NULL, "CHECK completed");
}

/* ---- dispatch and input loop ------------------------------------------ */

static void
dispatch(struct imap_session *s, struct imap_command *c, size_t consumed)
{
	const struct imap_cmd_def *d;

	s->cmd = c->cmd;
	s->cmd_consumed = consumed;
	s->cmd_start_ms = imap_now_ms(s);
	if (++s->ncommands > s->srv->base.cfg->commands * 100u) {
		/* [limits] commands is per SMTP session; an IMAP session
		 * lives longer: a hundredfold. */
		log_info("imap session=%s event=too-many-commands", s->base.id);
		conn_printf(s->base.conn, "* BYE Too many commands\r\n");
		imap_close(s);
		return;
	}
	imap_timer_arm(s);
	d = find_def(c->cmd);
	if (d == NULL) {
		imap_bad(s, "Unknown command");
		return;
	}
	if ((d->states & (1u << s->state)) == 0) {
		imap_bad(s, "%s not allowed %s", imap_cmd_name(c->cmd),
		    s->state == IMAP_STATE_NOT_AUTH ? "before login" :
		    s->state == IMAP_STATE_AUTH ? "without a selected mailbox"
		    : "in this state");
		return;
	}
	if (c->cmd == IMAP_CMD_STARTTLS) {
		/* Nothing of the command is needed after this; the input
		 * behind it is discarded with the TLS start. */
		buf_consume(&s->base.conn->in, consumed);
		s->cmd_consumed = 0;
	}
	d->handler(s, c);
}

void
imap_cmd_finish(struct imap_session *s)
{
	s->busy = false;
	if (s->base.conn_gone)
		return;
	buf_consume(&s->base.conn->in, s->cmd_consumed);
	s->cmd_consumed = 0;
	imap_timer_arm(s);
	conn_flush(s->base.conn);
	if (s->base.conn->paused)
		conn_resume(s->base.conn);
	imap_process(s);
}

static bool
reading_state(const struct imap_session *s)
{
	return s->state == IMAP_STATE_NOT_AUTH || s->state == IMAP_STATE_AUTH ||
	    s->state == IMAP_STATE_SELECTED || s->state == IMAP_STATE_SASL ||
	    s->state == IMAP_STATE_IDLE;
}

static void
drain_check(struct imap_session *s)
{
	if (!s->srv->base.draining || s->base.conn_gone || s->busy ||
	    s->state == IMAP_STATE_TLS_WAIT || s->state == IMAP_STATE_LOGOUT)
		return;
	conn_printf(s->base.conn, "* BYE [UNAVAILABLE] Server shutting "
	    "down\r\n");
	imap_close(s);
}

/* A line that is not a command: an AUTHENTICATE response or DONE.
 * Returns false when the loop must stop. */
static bool
client_line(struct imap_session *s)
{
	struct conn *c = s->base.conn;
	struct imap_slice line;
	size_t consumed = 0, max;
	int r;

	max = s->state == IMAP_STATE_SASL ? SASL_RESPONSE_MAX + 2 :
	    IMAP_LINE_MAX_PREAUTH;
	r = imap_parse_client_line(c->in.data, c->in.len, max, &line,
	    &consumed);
	if (r == 0)
		return false;
	if (r < 0) {
		buf_consume(&c->in, consumed);
		if (s->state == IMAP_STATE_SASL) {
			sasl_free(&s->sasl);
			imap_enter_state(s, IMAP_STATE_NOT_AUTH);
			imap_bad(s, "Authentication line too long");
		} else {
			struct imap_slice none = { (const uint8_t *)"", 0 };

			idle_done(s, none);
		}
		return true;
	}
	{
		char *copy = xmemdup(line.p, line.len + 1);
		struct imap_slice cl = { (const uint8_t *)copy, line.len };

		copy[line.len] = '\0';
		buf_consume(&c->in, consumed);
		if (s->state == IMAP_STATE_SASL)
			imap_sasl_line(s, copy, line.len);
		else
			idle_done(s, cl);
		explicit_bzero(copy, line.len);
		free(copy);
	}
	return true;
}

static void
imap_process(struct imap_session *s)
{
	struct conn *c = s->base.conn;

	drain_check(s);
	while (!s->base.conn_gone && !c->closing && !c->paused && !s->busy &&
	    reading_state(s) && s->fetch == NULL) {
		struct imap_command cmd;
		struct imap_parse_result res;
		int r;

		if (c->in.len == 0)
			break;
		if (s->state == IMAP_STATE_SASL ||
		    s->state == IMAP_STATE_IDLE) {
			if (!client_line(s))
				break;
			continue;
		}
		memset(&cmd, 0, sizeof(cmd));
		memset(&res, 0, sizeof(res));
		r = imap_parser_parse(s->parser, c->in.data, c->in.len, &cmd,
		    &res);
		if (r == 0) {
			if (res.need_cont)
				conn_printf(c, "+ Ready for literal data\r\n");
			if (res.consumed > 0) {
				buf_consume(&c->in, res.consumed);
				continue;
			}
			break;
		}
		if (r < 0) {
			size_t tl = res.err.tag.len;

			s->cmd = IMAP_CMD_UNKNOWN;
			s->cmd_start_ms = imap_now_ms(s);
			if (tl == 0 || tl > IMAP_TAG_MAX)
				moat_strlcpy(s->tag, "*", sizeof(s->tag));
			else {
				memcpy(s->tag, res.err.tag.p, tl);
				s->tag[tl] = '\0';
			}
			buf_consume(&c->in, res.consumed);
			imap_parse_failed(s, &res.err);
			if (res.err.close && !s->base.conn_gone) {
				conn_printf(c, "* BYE Cannot recover from "
				    "this input\r\n");
				imap_close(s);
			}
			continue;
		}
		if (cmd.tag.len > IMAP_TAG_MAX) {
			buf_consume(&c->in, res.consumed);
			conn_printf(c, "* BAD Tag too long\r\n");
			imap_count_error(s);
			continue;
		}
		memcpy(s->tag, cmd.tag.p, cmd.tag.len);
		s->tag[cmd.tag.len] = '\0';
		dispatch(s, &cmd, res.consumed);
		if (!s->busy && s->fetch == NULL && !s->base.conn_gone) {
			buf_consume(&c->in, s->cmd_consumed);
			s->cmd_consumed = 0;
		}
	}
	if (!s->base.conn_gone && c->in_overflow && !c->closing) {
		conn_printf(c, "* BYE Too much input\r\n");
		imap_close(s);
	}
	if (!s->base.conn_gone)
		conn_flush(c);
}

static void
imap_on_input(struct conn *c)
{
	imap_process(c->ctx);
}

static void
imap_on_drained(struct conn *c)
{
	struct imap_session *s = c->ctx;

	if (s->fetch != NULL)
		imap_fetch_more(s);
}

static void
greet(struct imap_session *s)
{
	char caps[1024];

	imap_enter_state(s, IMAP_STATE_NOT_AUTH);
	imap_capabilities(s, caps, sizeof(caps));
	conn_printf(s->base.conn, "* OK [CAPABILITY %s] %s IMAP moat ready\r\n",
	    caps, s->srv->base.cfg->hostname);
}

static void
imap_on_tls(struct conn *c, bool ok)
{
	struct imap_session *s = c->ctx;

	if (!ok)
		return;
	session_log_tls(&s->base);
	if (s->service == SERVICE_IMAPS && s->ncommands == 0)
		greet(s);
	else
		imap_enter_state(s, IMAP_STATE_NOT_AUTH);
	imap_process(s);
}

static void
imap_free(struct imap_session *s)
{
	imap_fetch_free(s);
	imap_deselect(s);
	sasl_free(&s->sasl);
	imap_parser_free(&s->parser);
	session_free(&s->base);
}

static void
imap_on_close(struct conn *c)
{
	struct imap_session *s = c->ctx;

	log_info("imap session=%s event=disconnect commands=%u", s->base.id,
	    s->ncommands);
	session_conn_gone(&s->base);
	/* A running auth delay timer ends a busy session; imap_free()
	 * closes both timers. */
	if (s->busy)
		return;		/* freed when that step ends */
	imap_free(s);
}

void
imap_session_gone(struct imap_session *s)
{
	s->busy = false;
	imap_free(s);
}

static void
imap_on_timeout(uv_timer_t *t)
{
	struct imap_session *s = t->data;

	if (s->busy || s->base.conn_gone)
		return;
	session_log_timeout(&s->base, s->state);
	conn_printf(s->base.conn, "* BYE Idle timeout, closing connection\r\n");
	imap_close(s);
}

static unsigned
sessions_from(struct imap_server *srv, const char *ip)
{
	struct session *ss;
	unsigned n = 0;

	for (ss = srv->base.sessions; ss != NULL; ss = ss->next)
		if (ss->conn != NULL && strcmp(ss->conn->peer_ip, ip) == 0)
			n++;
	return n;
}

void
imap_session_accept(struct imap_server *srv, uv_stream_t *listener,
    enum listen_service service)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	char text[320];

	s->srv = srv;
	s->service = service;
	moat_strlcpy(s->tag, "*", sizeof(s->tag));
	if (session_accept(&s->base, &imap_class, &srv->base, listener,
	    service, &s->aux_timer) < 0) {
		free(s);
		return;
	}
	imap_limits_preauth(&s->limits);
	s->limits.literal_mode = IMAP_LITERAL_PLUS;
	s->parser = imap_parser_new(&s->limits);
	imap_timer_arm(s);
	if (session_server_full(&srv->base) ||
	    sessions_from(srv, s->base.conn->peer_ip) > IMAP_SESSIONS_PER_IP) {
		log_info("imap session=%s event=too-many-sessions", s->base.id);
		conn_printf(s->base.conn, "* BYE [UNAVAILABLE] Too many "
		    "connections, try again later\r\n");
		imap_enter_state(s, IMAP_STATE_LOGOUT);
		conn_close(s->base.conn);
		return;
	}
	if (screen_session_refused(srv->base.screen, service, s->base.id,
	    s->base.conn->peer_ip, text, sizeof(text))) {
		/* No plaintext BYE into a TLS handshake on imaps. */
		if (service != SERVICE_IMAPS)
			conn_printf(s->base.conn,
			    "* BYE [UNAVAILABLE] %s\r\n", text);
		imap_enter_state(s, IMAP_STATE_LOGOUT);
		conn_close(s->base.conn);
		return;
	}
	if (service == SERVICE_IMAPS) {
		imap_enter_state(s, IMAP_STATE_TLS_WAIT);
		if (session_start_tls(&s->base) < 0)
			imap_close(s);
		return;
	}
	greet(s);
	conn_flush(s->base.conn);
}

/* Draining: a handshake is cut off; a session waiting for a command
 * gets BYE now. */
static void
imap_drain(struct session *ss)
{
	struct imap_session *s = (struct imap_session *)ss;

	if (s->state == IMAP_STATE_TLS_WAIT) {
		conn_abort(ss->conn);
		return;
	}
	drain_check(s);
	if (!ss->conn_gone)
		conn_flush(ss->conn);
}

static void
imap_abort(struct session *ss)
{
	struct imap_session *s = (struct imap_session *)ss;

	if (s->busy)
		return;
	conn_printf(ss->conn, "* BYE [UNAVAILABLE] Server shutting "
	    "down\r\n");
	imap_close(s);
}
