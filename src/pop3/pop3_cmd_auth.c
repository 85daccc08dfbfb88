/* pop3_cmd_auth: USER/PASS (RFC 1939 7) and AUTH (RFC 5034), then
 * opening the maildrop.
 *
 * Both ways of logging in go through the SASL module in libuv's thread
 * pool, as SMTP AUTH does: PASS is run as PLAIN with the USER name, so
 * unknown users, the account's pop3=on|off setting and the password
 * check behave the same everywhere. A failure is answered after a delay
 * that grows with the session's failures. On success the maildrop is
 * locked (RFC 1939 8: exclusive access), its index synced and its
 * message list read, again in the pool; a maildrop held by another
 * session gets "-ERR [IN-USE]" (RFC 2449 8.1.2).
 *
 * SECURITY: passwords and SASL responses are wiped after use and never
 * logged. Cleartext passwords (USER/PASS, PLAIN, LOGIN) are refused
 * before TLS unless [auth] cleartext_loopback is set and the client is
 * on loopback (the SMTP rule). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_events.h"
#include "auth_run.h"
#include "log.h"
#include "screen.h"
#include "mailbox.h"
#include "maildir.h"
#include "sasl.h"
#include "scram.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include "pop3_session_private.h"

#define AUTH_MECH_MAX 32
/* "\0user\0password" for PLAIN, from USER and PASS */
#define PASS_PLAIN_MAX (SASL_USER_MAX + SASL_PASS_MAX + 2)

/* Lock, open, sync and list the maildrop: a thread-pool job. */
struct open_job {
	uv_work_t		 work;
	struct pop3_session	*s;
	int			 open_result;	/* 0, -2 in use, -1 error */
	const char		*error;
};

static unsigned
auth_flags(const struct pop3_session *s)
{
	return auth_sasl_flags(s->srv->base.cfg, pop3_is_tls(s),
	    s->base.conn->peer_ip);
}

bool
pop3_cleartext_ok(const struct pop3_session *s)
{
	return auth_flags(s) != 0;
}

void
pop3_auth_mechs(struct pop3_session *s, char *out, size_t outlen)
{
	struct sasl_params p = { .flags = auth_flags(s) };
	struct sasl_cbind cb;

	out[0] = '\0';
	memset(&cb, 0, sizeof(cb));
	if (pop3_is_tls(s) && sasl_cbind_from_ssl(s->base.conn->ssl, &cb) == 0)
		p.cbind = &cb;
	if (sasl_mechanisms(&p, out, outlen) < 0)
		out[0] = '\0';
}

/* ---- the pool jobs ----------------------------------------------------- */

static void
open_work(uv_work_t *w)
{
	struct open_job *j = w->data;
	struct pop3_session *s = j->s;
	const char *error = NULL;
	int fd;

	j->open_result = -1;
	if (maildir_create(s->maildir) < 0) {
		j->error = "cannot create the Maildir";
		return;
	}
	fd = mailbox_pop3_lock(s->maildir, &error);
	if (fd == -2) {
		j->open_result = -2;
		return;
	}
	if (fd < 0) {
		j->error = error;
		return;
	}
	s->lock_fd = fd;
	if (mailbox_open(s->maildir, "INBOX", &s->mb, &error) < 0 ||
	    mailbox_sync(s->mb, &error) < 0 ||
	    mailbox_list(s->mb, &s->msgs, &s->nmsgs, &error) < 0) {
		/* sqlite3_errmsg() text dies with the handle: keep it
		 * generic. */
		(void)error;
		j->error = "mailbox index error";
		mailbox_close(&s->mb);
		mailbox_pop3_unlock(&s->lock_fd);
		return;
	}
	{
		struct mailbox_status st;

		if (mailbox_status(s->mb, &st, &error) < 0) {
			j->error = "mailbox index error";
			mailbox_msgs_free(&s->msgs, s->nmsgs);
			s->nmsgs = 0;
			mailbox_close(&s->mb);
			mailbox_pop3_unlock(&s->lock_fd);
			return;
		}
		s->uidvalidity = st.uidvalidity;
	}
	j->open_result = 0;
}

/* The session reads nothing while a pool job runs. */
static void
pop3_wait(struct pop3_session *s)
{
	s->busy = true;
	conn_pause(s->base.conn);
	uv_timer_stop(&s->base.timer);
}

static void open_done(uv_work_t *w, int status);

static void
auth_delay_done(uv_timer_t *t)
{
	struct pop3_session *s = t->data;

	s->busy = false;
	if (s->base.conn_gone) {
		pop3_free(s);
		return;
	}
	conn_flush(s->base.conn);
	pop3_session_resume(s);
}

/* The credentials are right: find the maildrop and open it. */
static void
login_ok(struct pop3_session *s, const char *user)
{
	struct open_job *j;
	const char *at = strrchr(user, '@');
	char local[SASL_USER_MAX + 1];

	moat_strlcpy(s->auth_user, user, sizeof(s->auth_user));
	{
		struct auth_attempt a = { .service = "pop3",
		    .ip = s->base.conn->peer_ip, .user = user, .ok = true };
		char text[8];

		(void)auth_event_logged(s->srv->base.screen, s->srv->store, &a,
		    s->base.id, text, sizeof(text));
	}
	if (at == NULL || (size_t)(at - user) >= sizeof(local) ||
	    (memcpy(local, user, (size_t)(at - user)),
	    local[at - user] = '\0',
	    maildir_path(s->srv->base.cfg->data_dir, at + 1, local, s->maildir,
	    sizeof(s->maildir)) < 0)) {
		log_warnx("pop3 session=%s event=bad-maildrop", s->base.id);
		pop3_reply(s, false, "[SYS/PERM] No maildrop for this account");
		s->auth_user[0] = '\0';
		pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->work.data = j;
	pop3_enter_state(s, POP3_STATE_BUSY);
	pop3_wait(s);
	if (uv_queue_work(s->srv->base.loop, &j->work, open_work,
	    open_done) != 0)
		fatalx("uv_queue_work failed");
}

static void
open_result(struct pop3_session *s, struct open_job *j)
{
	char esc[LOG_ESC_MAX];
	size_t i;

	log_escape(esc, sizeof(esc), s->auth_user, strlen(s->auth_user));
	if (j->open_result == -2) {
		log_info("pop3 session=%s event=maildrop-locked user=\"%s\"",
		    s->base.id, esc);
		pop3_reply(s, false, "[IN-USE] Mailbox locked by another "
		    "session");
		s->auth_user[0] = '\0';
		pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
		return;
	}
	if (j->open_result < 0) {
		log_warnx("pop3 session=%s event=maildrop-failed user=\"%s\" "
		    "error=\"%s\"", s->base.id, esc, j->error ? j->error : "-");
		pop3_reply(s, false, "[SYS/TEMP] Cannot open the mailbox, try "
		    "again later");
		s->auth_user[0] = '\0';
		pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
		return;
	}
	s->deleted = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(*s->deleted));
	s->total_size = 0;
	for (i = 0; i < s->nmsgs; i++)
		s->total_size += s->msgs[i].size;
	pop3_enter_state(s, POP3_STATE_TRANSACTION);
	log_info("pop3 session=%s event=login user=\"%s\" messages=%zu",
	    s->base.id, esc, s->nmsgs);
	pop3_reply(s, true, "Logged in, %zu message%s (%llu octets)",
	    s->nmsgs, s->nmsgs == 1 ? "" : "s",
	    (unsigned long long)s->total_size);
}

static void
auth_fail_reply(struct pop3_session *s, enum sasl_fail f)
{
	switch (f) {
	case SASL_FAIL_MALFORMED:
		pop3_reply(s, false, "Malformed authentication data");
		break;
	case SASL_FAIL_TOO_LONG:
		pop3_reply(s, false, "Authentication data too long");
		break;
	case SASL_FAIL_CANCELLED:
		pop3_reply(s, false, "Authentication cancelled");
		break;
	case SASL_FAIL_UNKNOWN_MECH:
		pop3_reply(s, false, "Unsupported authentication mechanism");
		break;
	case SASL_FAIL_ENCRYPT:
		pop3_reply(s, false, "[AUTH] Cleartext authentication is "
		    "not allowed: TLS required (use STLS or pop3s)");
		break;
	case SASL_FAIL_TEMP:
		pop3_reply(s, false, "[SYS/TEMP] Temporary authentication "
		    "failure");
		break;
	default:
		/* Credentials, authzid, channel binding, pop3=off: one
		 * answer, so a guesser learns nothing (the log says why). */
		pop3_reply(s, false, "[AUTH] Authentication failed");
		break;
	}
}

static void
open_done(uv_work_t *w, int status)
{
	struct open_job *j = w->data;
	struct pop3_session *s = j->s;

	if (s->base.conn_gone) {
		s->busy = false;
		free(j);
		pop3_free(s);	/* releases a lock the job may have taken */
		return;
	}
	if (status < 0) {
		j->open_result = -1;
		j->error = "cancelled";
	}
	s->busy = false;
	open_result(s, j);
	free(j);
	conn_flush(s->base.conn);
	pop3_session_resume(s);
}

static void
auth_done(struct auth_step *st, int status)
{
	struct pop3_session *s = st->ctx;
	enum sasl_fail fail = st->reply.fail;
	char bantext[320];
	bool banned;

	(void)status;
	if (s->base.conn_gone) {
		s->busy = false;
		sasl_free(&s->sasl);
		pop3_free(s);
		return;
	}
	switch (st->reply.status) {
	case SASL_CONTINUE:
		/* Challenges are not logged: they are part of the exchange. */
		conn_printf(s->base.conn, "+ %s\r\n", st->challenge);
		s->busy = false;
		conn_flush(s->base.conn);
		pop3_session_resume(s);
		return;
	case SASL_OK:
		sasl_free(&s->sasl);
		s->busy = false;
		login_ok(s, st->user);
		if (!s->busy) {
			conn_flush(s->base.conn);
			pop3_session_resume(s);
		}
		return;
	case SASL_FAIL:
		break;
	}
	{
		struct auth_attempt a = { .service = "pop3",
		    .ip = s->base.conn->peer_ip,
		    .user = st->user[0] ? st->user : NULL, .ok = false,
		    .reason = sasl_fail_name(fail),
		    .fingerprint = st->reply.fingerprint };

		banned = auth_event_logged(s->srv->base.screen, s->srv->store,
		    &a, s->base.id, bantext, sizeof(bantext));
	}
	sasl_free(&s->sasl);
	pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
	auth_fail_reply(s, fail);
	if (banned) {
		/* The attempt that crossed the threshold ends it here. */
		conn_printf(s->base.conn, "-ERR [SYS/PERM] %s\r\n", bantext);
		s->busy = false;
		pop3_close(s);
		return;
	}
	if (auth_fail_is_guess(fail)) {
		/* The answer waits; the session reads nothing meanwhile. */
		uv_timer_start(&s->auth_timer, auth_delay_done,
		    auth_failure_delay_ms(++s->auth_failures), 0);
		pop3_count_error(s);
		return;
	}
	s->busy = false;
	pop3_count_error(s);
	conn_flush(s->base.conn);
	pop3_session_resume(s);
}

/* A SASL session for one login, with channel binding when on TLS. */
static void
sasl_begin(struct pop3_session *s)
{
	s->auth_service.data_dir = s->srv->base.cfg->data_dir;
	s->auth_service.service = "pop3";	/* the pop3=on|off setting */
	moat_strlcpy(s->auth_service.ip, s->base.conn->peer_ip,
	    sizeof(s->auth_service.ip));
	s->auth_service.dyn = s->srv->base.screen != NULL ?
	    screen_dyn(s->srv->base.screen) : NULL;
	s->auth_service.refuse_frozen =
	    !s->srv->base.cfg->hj_frozen_mail_access;
	s->sasl = auth_sasl_begin(&s->auth_service, &s->sasl_lookup,
	    &s->sasl_cbind, auth_flags(s),
	    pop3_is_tls(s) ? s->base.conn->ssl : NULL);
}

static void
refuse_cleartext(struct pop3_session *s)
{
	log_info("pop3 session=%s event=cleartext-refused ip=%s", s->base.id,
	    s->base.conn->peer_ip);
	pop3_reply(s, false, "[AUTH] Cleartext authentication is not "
	    "allowed: TLS required (use STLS or pop3s)");
	pop3_count_error(s);
}

/* ---- commands ---------------------------------------------------------- */

void
pop3_cmd_user(struct pop3_session *s, const char *args, size_t len)
{
	size_t i;

	if (!pop3_cleartext_ok(s)) {
		refuse_cleartext(s);
		return;
	}
	if (len == 0 || len > SASL_USER_MAX) {
		pop3_reply(s, false, "Syntax: USER name");
		pop3_count_error(s);
		return;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)args[i] <= ' ' || args[i] == 0x7f) {
			pop3_reply(s, false, "Syntax: USER name");
			pop3_count_error(s);
			return;
		}
	}
	memcpy(s->user, args, len);
	s->user[len] = '\0';
	s->have_user = true;
	pop3_reply(s, true, "Send your password");
}

void
pop3_cmd_pass(struct pop3_session *s, const char *args, size_t len)
{
	uint8_t plain[PASS_PLAIN_MAX];
	size_t ulen, n;
	char *b64;

	if (!pop3_cleartext_ok(s)) {
		refuse_cleartext(s);
		return;
	}
	if (!s->have_user) {
		pop3_reply(s, false, "Send USER first");
		pop3_count_error(s);
		return;
	}
	s->have_user = false;	/* RFC 1939 7: a failed PASS needs USER */
	ulen = strlen(s->user);
	if (len == 0 || len > SASL_PASS_MAX) {
		pop3_reply(s, false, "Syntax: PASS password");
		pop3_count_error(s);
		return;
	}
	/* PLAIN: authzid "" NUL authcid NUL passwd (RFC 4616 2). */
	n = 0;
	plain[n++] = '\0';
	memcpy(plain + n, s->user, ulen);	/* UNSAFE: ulen <= USER_MAX */
	n += ulen;
	plain[n++] = '\0';
	memcpy(plain + n, args, len);		/* UNSAFE: len <= PASS_MAX */
	n += len;
	b64 = xmalloc(SCRAM_B64_LEN(n) + 1);
	if (scram_b64_encode(plain, n, b64, SCRAM_B64_LEN(n) + 1) < 0)
		fatalx("pop3: base64 of a bounded PLAIN message failed");
	explicit_bzero(plain, sizeof(plain));
	explicit_bzero(s->user, sizeof(s->user));
	sasl_begin(s);
	pop3_enter_state(s, POP3_STATE_AUTH);
	if (auth_run_start(s->srv->base.loop, s->sasl, "PLAIN", 5, b64,
	    strlen(b64), auth_done, s) < 0)
		fatalx("pop3: PLAIN is a valid mechanism name");
	explicit_bzero(b64, strlen(b64));
	free(b64);
	pop3_wait(s);
}

void
pop3_cmd_auth(struct pop3_session *s, const char *args, size_t len)
{
	char mechs[SASL_MECHS_MAX];
	const char *sp;
	size_t mlen, i;

	if (len == 0) {
		/* The pre-CAPA form (RFC 1734 clients): list mechanisms. */
		pop3_auth_mechs(s, mechs, sizeof(mechs));
		pop3_reply(s, true, "Mechanisms follow");
		for (i = 0; mechs[i] != '\0'; i++)
			if (mechs[i] == ' ')
				mechs[i] = '\n';
		if (mechs[0] != '\0') {
			const char *p = mechs, *nl;

			while ((nl = strchr(p, '\n')) != NULL) {
				conn_printf(s->base.conn, "%.*s\r\n",
				    (int)(nl - p), p);
				p = nl + 1;
			}
			conn_printf(s->base.conn, "%s\r\n", p);
		}
		conn_printf(s->base.conn, ".\r\n");
		return;
	}
	if (!pop3_cleartext_ok(s)) {
		refuse_cleartext(s);
		return;
	}
	sp = memchr(args, ' ', len);
	mlen = sp ? (size_t)(sp - args) : len;
	if (mlen == 0 || mlen >= AUTH_MECH_MAX) {
		pop3_reply(s, false, "Syntax: AUTH mechanism "
		    "[initial-response]");
		pop3_count_error(s);
		return;
	}
	s->have_user = false;
	sasl_begin(s);
	pop3_enter_state(s, POP3_STATE_AUTH);
	if (auth_run_start(s->srv->base.loop, s->sasl, args, mlen, sp ? sp + 1 :
	    NULL, sp ? len - mlen - 1 : 0, auth_done, s) < 0)
		fatalx("pop3: mechanism length checked above");
	pop3_wait(s);
}

void
pop3_auth_line(struct pop3_session *s, const char *line, size_t len)
{
	auth_run_line(s->srv->base.loop, s->sasl, line, len, auth_done, s);
	pop3_wait(s);
}
