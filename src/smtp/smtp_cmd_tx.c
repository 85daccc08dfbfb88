/* smtp_cmd_tx: the mail transaction of an SMTP session: MAIL, RCPT (with
 * the recipient and relay checks), DATA and BDAT content through the
 * smtp_data reader, our Received: header, and handing the message to
 * queue_commit, which makes it durable before "250" is sent. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidr.h"
#include "dmarc.h"
#include "list_expand.h"
#include "log.h"
#include "queue_commit.h"
#include "quota.h"
#include "store_list.h"
#include "tls.h"
#include "util.h"
#include "xalloc.h"

#include "smtp_session_private.h"

/* RFC 5321 4.5.1: "Postmaster" without a domain must be accepted; it
 * goes to postmaster at the server's own name, or its parent domain. */
static int
smtp_postmaster(struct smtp_session *s, char *local, char *domain,
    size_t dlen, enum store_rcpt_result *res)
{
	const char *host = s->srv->base.cfg->hostname;
	const char *dot;

	moat_strlcpy(local, "postmaster", SMTP_LOCAL_MAX + 3);
	moat_strlcpy(domain, host, dlen);
	ascii_lower(domain);
	if (store_rcpt_check(s->srv->store, local, domain, res) < 0)
		return -1;
	if (*res == STORE_RCPT_NOT_LOCAL && (dot = strchr(host, '.')) != NULL) {
		moat_strlcpy(domain, dot + 1, dlen);
		ascii_lower(domain);
		if (store_rcpt_check(s->srv->store, local, domain, res) < 0)
			return -1;
	}
	return 0;
}

/* Relaying (a recipient outside our domains) is decided by
 * smtp_may_relay(). The local part is never interpreted: "user%other@local",
 * "other!user@local" and quoted "user@other"@local are local recipients
 * (that must exist); only the domain after the last '@' decides. */

/* A message that has passed through more than max_received hops is in a
 * mail loop (RFC 5321 6.3): refuse it rather than pass it on again. */
static int
smtp_loop_check(struct smtp_session *s)
{
	const uint8_t *p = s->msg.data, *end = p + s->msg.len;
	unsigned n = 0;

	while (p < end) {
		const uint8_t *nl;

		if (end - p >= 9 && ascii_nieq((const char *)p, "Received:", 9))
			n++;
		if (p[0] == '\r' && end - p >= 2 && p[1] == '\n')
			break;	/* end of the header section */
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (n <= s->srv->base.cfg->max_received)
		return 0;
	smtp_reply(s, 554, "5.4.6 Too many hops (%u Received: headers): mail "
	    "loop", n);
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_STATE_READY);
	return -1;
}

void
cmd_mail(struct smtp_session *s, const char *args, size_t len)
{
	const struct config *cfg = s->srv->base.cfg;
	const char *error = NULL;
	int code = 501;

	if (s->nmessages >= cfg->messages) {
		smtp_reply(s, 421, "4.7.0 %s Error: too many messages in one "
		    "session", cfg->hostname);
		smtp_close(s);
		return;
	}
	if (smtp_parse_mail(args, len, 0, &s->mail, &code, &error) < 0) {
		smtp_reply(s, code, "%s", error);
		smtp_count_error(s);
		return;
	}
	if (s->mail.has_size && s->mail.size > cfg->message_size) {
		smtp_reply(s, 552, "5.3.4 Message size exceeds fixed limit "
		    "of %" PRIu64 " bytes", cfg->message_size);
		return;
	}
	if (smtp_auth_required(s)) {
		smtp_reply(s, 530, "5.7.0 Authentication required");
		smtp_count_error(s);
		return;
	}
	if (s->mail.from.utf8 && !s->mail.smtputf8) {
		smtp_reply(s, 553, "5.6.7 UTF-8 address requires SMTPUTF8");
		smtp_count_error(s);
		return;
	}
	if (smtp_addr_format(&s->mail.from, s->from, sizeof(s->from)) < 0) {
		smtp_reply(s, 553, "5.1.7 Sender address too long");
		smtp_count_error(s);
		return;
	}
	switch (smtp_sender_owned(s, s->from)) {
	case -1:
		smtp_reply(s, 451, "4.3.0 Temporary lookup failure");
		return;
	case 0:
		smtp_reply(s, 553, "5.7.1 <%s>: Sender address rejected: not "
		    "owned by user %s", s->from, s->auth_user);
		smtp_count_error(s);
		return;
	}
	if (smtp_screen_sender(s) || smtp_hijack_mail(s))
		return;
	smtp_enter_state(s, SMTP_STATE_MAIL);
	smtp_authn_mail(s);
	smtp_reply(s, 250, "2.1.0 Ok");
}

#define RCPT_QUOTA_TARGETS	16	/* accounts of one RCPT we check */

struct rcpt_targets {
	char	local[RCPT_QUOTA_TARGETS][SMTP_PATH_MAX];
	char	domain[RCPT_QUOTA_TARGETS][SMTP_PATH_MAX];
	size_t	n;
};

static void
rcpt_target(void *ctx, const char *local, const char *domain,
    bool is_account)
{
	struct rcpt_targets *t = ctx;

	if (!is_account || t->n == RCPT_QUOTA_TARGETS)
		return;
	moat_strlcpy(t->local[t->n], local, sizeof(t->local[0]));
	moat_strlcpy(t->domain[t->n], domain, sizeof(t->domain[0]));
	t->n++;
}

/* The accounts a local recipient reaches: is one of them over quota
 * (RFC 3463 4.2.2), or would the announced SIZE not fit (5.2.2)? A
 * lookup error answers OK: delivery checks again. */
static enum quota_result
rcpt_quota(struct smtp_session *s, const char *local, const char *domain)
{
	struct rcpt_targets *t = xcalloc(1, sizeof(*t));
	enum quota_result worst = QUOTA_OK, r;
	size_t i;

	if (store_resolve(s->srv->store, local, domain, rcpt_target, t) > 0)
		for (i = 0; i < t->n; i++)
			if (quota_check(s->srv->store,
			    s->srv->base.cfg->data_dir, t->local[i],
			    t->domain[i], s->mail.has_size ? s->mail.size : 0,
			    &r, NULL) == 0 && r > worst)
				worst = r;
	free(t);
	return worst;
}

void
cmd_rcpt(struct smtp_session *s, const char *args, size_t len)
{
	const struct config *cfg = s->srv->base.cfg;
	struct smtp_rcpt_args r;
	enum store_rcpt_result res;
	const char *error = NULL;
	int code = 501, db;
	char addr[SMTP_PATH_MAX + 8];

	if (smtp_parse_rcpt(args, len, 0, s->mail.smtputf8, &r, &code,
	    &error) < 0) {
		smtp_reply(s, code, "%s", error);
		smtp_count_error(s);
		return;
	}
	if (r.postmaster)
		db = smtp_postmaster(s, r.to.local, r.to.domain,
		    sizeof(r.to.domain), &res);
	else if (r.to.literal)
		/* We host no mail on address literals. */
		db = 0, res = STORE_RCPT_NOT_LOCAL;
	else
		db = store_rcpt_check(s->srv->store, r.to.local, r.to.domain,
		    &res);
	if (smtp_addr_format(&r.to, addr, sizeof(addr)) < 0)
		moat_strlcpy(addr, "?", sizeof(addr));
	moat_strlcpy(s->last_rcpt, addr, sizeof(s->last_rcpt));
	if (db < 0) {
		smtp_reply(s, 451, "4.3.0 Temporary lookup failure, try "
		    "again later");
		return;
	}
	if (smtp_screen_rcpt(s, addr, res == STORE_RCPT_NOT_LOCAL ? NULL :
	    r.to.domain))
		return;
	if (res == STORE_RCPT_NOT_LOCAL && !smtp_may_relay(s)) {
		smtp_reply(s, 554, "5.7.1 <%.256s>: Relay access denied", addr);
		if (!smtp_screen_event(s, DYNCFG_RELAY))
			smtp_count_error(s);
		return;
	}
	if (res == STORE_RCPT_NOT_LOCAL && r.postmaster) {
		smtp_reply(s, 550, "5.1.1 <Postmaster>: no postmaster alias "
		    "for this server's domain");
		return;
	}
	if (res == STORE_RCPT_NO_SUCH_USER) {
		smtp_reply(s, 550, "5.1.1 <%.256s>: Recipient address "
		    "rejected: User unknown", addr);
		if (!smtp_screen_event(s, DYNCFG_UNKNOWN_RCPT))
			smtp_count_error(s);
		return;
	}
	if (s->nrcpts >= cfg->recipients) {
		smtp_reply(s, 452, "4.5.3 Error: too many recipients");
		return;
	}
	if (res == STORE_RCPT_OK) {
		enum quota_result q = rcpt_quota(s, r.to.local, r.to.domain);
		char why[512];
		int lc, lr;

		/* A list: may this sender post (store_list.h)? */
		lr = store_list_rcpt_policy(s->srv->store, r.to.local,
		    r.to.domain, s->from, s->mail.has_size ? s->mail.size : 0,
		    &lc, why, sizeof(why));
		if (lr != 0) {
			if (lr < 0)
				smtp_reply(s, 451, "4.3.0 Temporary lookup "
				    "failure, try again later");
			else
				smtp_reply(s, lc, "%s", why);
			return;
		}

		if (q == QUOTA_FULL) {
			smtp_reply(s, 452, "4.2.2 <%.256s>: Mailbox full",
			    addr);
			return;
		}
		if (q == QUOTA_TOO_BIG) {
			smtp_reply(s, 552, "5.2.2 <%.256s>: Mailbox full: "
			    "message too large for the quota", addr);
			return;
		}
	}
	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(char *));
	s->rcpts[s->nrcpts++] = xstrdup(addr);
	smtp_enter_state(s, SMTP_STATE_RCPT);
	smtp_reply(s, 250, "2.1.5 Ok");
}

static void
rfc5322_date(char *dst, size_t len, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(dst, len, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		dst[0] = '\0';
}

/* Start a message: queue id and our Received: header (RFC 5321 4.4). */
static void
smtp_message_begin(struct smtp_session *s, enum smtp_data_mode mode)
{
	const struct config *cfg = s->srv->base.cfg;
	char date[64], tlsinfo[160], helo[SMTP_HELO_MAX * 4 + 1];
	const char *proto;
	bool tls = smtp_is_tls(s);

	queue_id_new(s->qid);
	buf_init(&s->msg, cfg->message_size + SMTP_HEADER_ROOM);
	rfc5322_date(date, sizeof(date), time(NULL));
	/* RFC 3848 / RFC 6531 protocol names. */
	if (s->mail.smtputf8)
		proto = tls ? "UTF8SMTPS" : "UTF8SMTP";
	else if (!s->esmtp)
		proto = "SMTP";
	else
		proto = tls ? "ESMTPS" : "ESMTP";
	log_escape(helo, sizeof(helo), s->helo, strlen(s->helo));
	if (buf_printf(&s->msg, "Received: from %s ([%s])\r\n"
	    "\tby %s (moat) with %s id %s", helo, s->base.conn->peer_ip,
	    cfg->hostname, proto, s->qid) < 0)
		goto overflow;
	if (tls && tls_describe(s->base.conn->ssl, tlsinfo,
	    sizeof(tlsinfo)) == 0 &&
	    buf_printf(&s->msg, "\r\n\t(using %s)", tlsinfo) < 0)
		goto overflow;
	if (s->nrcpts == 1 &&
	    buf_printf(&s->msg, "\r\n\tfor <%s>", s->rcpts[0]) < 0)
		goto overflow;
	if (buf_printf(&s->msg, "; %s\r\n", date) < 0)
		goto overflow;
	s->received_len = s->msg.len;
	smtp_data_init(&s->reader, mode, cfg->message_size, cfg->line_length);
	return;
overflow:
	/* SMTP_HEADER_ROOM covers the header by construction. */
	fatalx("Received header exceeds its room");
}

void
cmd_data(struct smtp_session *s, const char *args, size_t len)
{
	(void)args;
	if (len != 0) {
		smtp_reply(s, 501, "5.5.4 Syntax: DATA");
		smtp_count_error(s);
		return;
	}
	if (s->state != SMTP_STATE_RCPT) {
		smtp_reply(s, 503, "5.5.1 Error: need RCPT command");
		smtp_count_error(s);
		return;
	}
	if (s->bdat_seen) {
		smtp_reply(s, 503, "5.5.1 Error: DATA after BDAT");
		smtp_count_error(s);
		return;
	}
	smtp_message_begin(s, SMTP_DATA_DOT);
	smtp_enter_state(s, SMTP_STATE_DATA);
	smtp_reply(s, 354, "End data with <CR><LF>.<CR><LF>");
}

void
cmd_bdat(struct smtp_session *s, const char *args, size_t len)
{
	const char *error = NULL;
	uint64_t size;
	bool last;

	if (smtp_parse_bdat(args, len, &size, &last, &error) < 0) {
		/* Without a valid size we cannot find the next command:
		 * the session is out of sync and must end. */
		smtp_reply(s, 501, "%s", error);
		smtp_close(s);
		return;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	if (s->state != SMTP_STATE_RCPT) {
		/* RFC 3030 2: the chunk is read and discarded. */
		s->bdat_discard = true;
		s->bdat_prev_state = s->state;
		smtp_enter_state(s, SMTP_STATE_BDAT);
		return;
	}
	if (!s->bdat_seen) {
		s->bdat_seen = true;
		smtp_message_begin(s, SMTP_DATA_RAW);
	}
	s->bdat_discard = false;
	smtp_enter_state(s, SMTP_STATE_BDAT);
}

static void
smtp_commit_done(void *ctx, int err)
{
	struct smtp_session *s = ctx;

	s->committing = false;
	if (s->base.conn_gone) {
		smtp_free(s);
		return;
	}
	if (err != 0) {
		smtp_reply(s, 451, "4.3.0 Error: queue file write error, try "
		    "again later");
	} else {
		s->nmessages++;
		log_info("smtp session=%s event=queued id=%s from=<%s> "
		    "nrcpt=%zu size=%zu", s->base.id, s->qid, s->from, s->nrcpts,
		    s->msg.len);
		smtp_reply(s, 250, "2.0.0 Ok: queued as %s", s->qid);
		smtp_hijack_queued(s);
	}
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_STATE_READY);
	conn_flush(s->base.conn);
	smtp_timer_arm(s);
	conn_resume(s->base.conn);
}


static void
smtp_message_end(struct smtp_session *s)
{
	enum smtp_data_error e = s->reader.error;

	if (e != SMTP_DATA_OK) {
		const char *text = smtp_data_error_text(e);

		/* The reader's text starts with its reply code. */
		smtp_reply(s, smtp_data_error_code(e), "%s",
		    strlen(text) > 4 ? text + 4 : text);
		smtp_tx_reset(s);
		smtp_enter_state(s, SMTP_STATE_READY);
		if (e != SMTP_DATA_TOO_BIG)
			smtp_count_error(s);
		return;
	}
	if (smtp_loop_check(s) < 0)
		return;
	{
		char bad[SMTP_PATH_MAX];
		int owned = smtp_header_from_owned(s, s->msg.data, s->msg.len,
		    bad, sizeof(bad));

		if (owned != 1) {
			if (owned < 0)
				smtp_reply(s, 451, "4.3.0 Temporary lookup "
				    "failure");
			else
				smtp_reply(s, 553, "5.7.1 From: <%.200s> is "
				    "not owned by user %s", bad, s->auth_user);
			smtp_tx_reset(s);
			smtp_enter_state(s, SMTP_STATE_READY);
			return;
		}
	}
	{
		/* Members-only lists: the envelope sender or a From: author
		 * must be a member (list_expand.h). A SQLite read, like the
		 * RCPT lookups: no pool round trip. */
		char why[LIST_ADDR_MAX + 128];
		int lr = list_data_policy(s->srv->store, s->rcpts, s->nrcpts,
		    s->from, s->msg.data, s->msg.len, why, sizeof(why));

		if (lr != 0) {
			if (lr < 0)
				smtp_reply(s, 451, "4.3.0 Temporary lookup "
				    "failure");
			else
				smtp_reply(s, 550, "%s", why);
			log_info("smtp session=%s event=list-refused from=<%s> "
			    "reason=\"%s\"", s->base.id, s->from, lr < 0 ?
			    "database" : why);
			smtp_tx_reset(s);
			smtp_enter_state(s, SMTP_STATE_READY);
			return;
		}
	}
	/* Nothing more is read until the message is settled. */
	smtp_enter_state(s, SMTP_STATE_QUEUEING);
	uv_timer_stop(&s->base.timer);
	conn_pause(s->base.conn);
	conn_flush(s->base.conn);
	if (smtp_authn_data_end(s))
		smtp_authn_continue(s);
}

/* SPF and DKIM results are in (or were not needed): queue the message. */
void
smtp_authn_continue(struct smtp_session *s)
{
	if (!smtp_authn_ready(s))
		return;
	if (s->base.conn_gone) {
		smtp_tx_reset(s);
		return;		/* the client is gone: it got no 250 */
	}
	if (smtp_authn_finish(s) < 0 || smtp_hijack_data_end(s)) {
		smtp_tx_reset(s);
		smtp_enter_state(s, SMTP_STATE_READY);
		smtp_session_resume(s);
		return;
	}
	if (smtp_filter_start(s))
		smtp_message_queue(s);	/* else after the scan */
}

void
smtp_message_queue(struct smtp_session *s)
{
	struct queue_envelope env;
	char helo[SMTP_HELO_MAX * 4 + 1];

	memset(&env, 0, sizeof(env));
	memcpy(env.id, s->qid, sizeof(env.id));
	env.time = time(NULL);
	env.from = s->from;
	env.rcpts = s->rcpts;
	env.nrcpts = s->nrcpts;
	env.client_ip = s->base.conn->peer_ip;
	log_escape(helo, sizeof(helo), s->helo, strlen(s->helo));
	env.helo = helo;
	env.service = (char *)config_service_name(s->service);
	env.session = s->base.id;
	env.auth = s->authenticated ? s->auth_user : NULL;
	env.smtputf8 = s->mail.smtputf8;
	env.eightbit = s->mail.body == SMTP_BODY_8BITMIME;
	env.junk = s->quarantine;
	env.quarantine = s->hold_reason[0] != '\0' ? s->hold_reason : NULL;
	/* The author domain's published policy, whatever our verdict: a
	 * list rewrites From for p=quarantine/reject (list_auth). */
	if (s->dmarc_result != NULL && s->dmarc_result->has_record &&
	    s->dmarc_result->policy != DMARC_P_UNSET)
		env.author_dmarc = (char *)dmarc_policy_name(
		    s->dmarc_result->policy);
	buf_init(&s->env, QUEUE_ENVELOPE_MAX);
	if (queue_envelope_format(&env, &s->env) < 0) {
		smtp_reply(s, 451, "4.3.0 Error: cannot queue message");
		smtp_tx_reset(s);
		smtp_enter_state(s, SMTP_STATE_READY);
		smtp_session_resume(s);
		return;
	}
	s->committing = true;
	queue_commit_submit(s->srv->commit, s->qid, &s->env, &s->msg,
	    smtp_commit_done, s);
}

/* Content keeps the session alive only at a minimum rate: every
 * SMTP_DATA_PROGRESS octets restart the idle timer. */
static void
smtp_data_progress(struct smtp_session *s, size_t n)
{
	s->progress += n;
	if (s->progress >= SMTP_DATA_PROGRESS) {
		s->progress = 0;
		smtp_timer_arm(s);
	}
}

/* Feed DATA content; returns octets consumed. */
size_t
smtp_feed_data(struct smtp_session *s, const uint8_t *p, size_t len)
{
	size_t n = smtp_data_feed(&s->reader, p, len, &s->msg);

	smtp_data_progress(s, n);
	if (s->reader.done)
		smtp_message_end(s);
	return n;
}

size_t
smtp_feed_bdat(struct smtp_session *s, const uint8_t *p, size_t len)
{
	size_t n = len < s->bdat_left ? len : (size_t)s->bdat_left;

	if (!s->bdat_discard && n > 0)
		smtp_data_feed(&s->reader, p, n, &s->msg);
	smtp_data_progress(s, n);
	s->bdat_left -= n;
	if (s->bdat_left > 0)
		return n;
	if (s->bdat_discard) {
		s->bdat_discard = false;
		smtp_enter_state(s, s->bdat_prev_state);
		smtp_reply(s, 503, "5.5.1 Error: need RCPT command");
		smtp_count_error(s);
		return n;
	}
	if (!s->bdat_last) {
		smtp_enter_state(s, SMTP_STATE_RCPT);
		smtp_reply(s, 250, "2.0.0 Ok: %" PRIu64 " octets so far",
		    s->reader.size);
		return n;
	}
	smtp_data_finish(&s->reader);
	smtp_message_end(s);
	return n;
}
