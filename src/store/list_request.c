/* list_request: subscription by mail (double opt-in), confirmations,
 * held posts and bounces. See list_request.h. */
#include "list_request.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "list_digest.h"
#include "log.h"
#include "mime.h"
#include "store_list_digest.h"
#include "util.h"
#include "xalloc.h"

#define LIST_NOTICE_MAX		(16 * 1024)	/* a notice without a post */
#define LIST_HELD_HEADERS	(64 * 1024)	/* of the post, in the notice */
#define LIST_REPLY_INTERVAL	3600	/* one reply per address and hour */
#define LIST_REPLY_SLOTS	4096	/* addresses remembered (hashed) */
#define LIST_REPLY_MAX_PER_HOUR	200	/* "could not serve" replies */
#define LIST_CONFIRM_MAX_PER_HOUR 1000	/* confirmation requests */
#define LIST_DSN_SCAN		(256 * 1024)	/* of a bounce, parsed */

/* ---- notices ----------------------------------------------------------- */

static void
rfc5322_now(char *dst, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(dst, len, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		dst[0] = '\0';
}

/* Queue a notice from LIST-request@ to `to`, from the null reverse-path
 * (it can cause no bounce, hence no loop). token (may be NULL) makes
 * Reply-To LIST-confirm+TOKEN@ so that a plain reply confirms. extra
 * (may be NULL) is appended as a message/rfc822 part. */
static int
send_notice(const struct config *cfg, const struct list_info *li,
    const char *to, const char *subject, const char *token,
    const char *text, const uint8_t *extra, size_t extralen,
    const struct queue_envelope *orig)
{
	struct buf m;
	char date[64], qid[QUEUE_ID_LEN + 1], boundary[64];
	int r = 0;

	rfc5322_now(date, sizeof(date));
	queue_id_new(qid);
	snprintf(boundary, sizeof(boundary), "=_moat_list_%s", qid);
	buf_init(&m, LIST_NOTICE_MAX + extralen);
	r |= buf_printf(&m, "From: \"%s\" <%s-request@%s>\r\nTo: <%s>\r\n"
	    "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s.list@%s>\r\n",
	    li->name, li->local, li->domain, to, subject, date, qid,
	    cfg->hostname);
	if (token != NULL)
		r |= buf_printf(&m, "Reply-To: <%s-confirm+%s@%s>\r\n",
		    li->local, token, li->domain);
	r |= buf_printf(&m, "List-Id: \"%s\" <%s.%s>\r\n"
	    "Auto-Submitted: auto-replied\r\nPrecedence: bulk\r\n"
	    "MIME-Version: 1.0\r\n", li->name, li->local, li->domain);
	if (extra == NULL) {
		r |= buf_printf(&m, "Content-Type: text/plain; "
		    "charset=us-ascii\r\n\r\n%s", text);
	} else {
		r |= buf_printf(&m, "Content-Type: multipart/mixed; "
		    "boundary=\"%s\"\r\n\r\n--%s\r\nContent-Type: text/plain; "
		    "charset=us-ascii\r\n\r\n%s\r\n--%s\r\nContent-Type: "
		    "message/rfc822\r\nContent-Disposition: attachment\r\n\r\n",
		    boundary, boundary, text, boundary);
		r |= buf_append(&m, extra, extralen);
		r |= buf_printf(&m, "\r\n--%s--\r\n", boundary);
	}
	if (r < 0 || list_queue_mail(cfg, "", to, "list-notice", orig, m.data,
	    m.len, NULL) < 0 || list_queue_sync(cfg) < 0) {
		buf_deinit(&m);
		return -1;
	}
	buf_deinit(&m);
	return 0;
}

/* ---- requests ---------------------------------------------------------- */

/* Automatic mail (RFC 3834 2: Auto-Submitted other than "no"; bulk, junk
 * and list Precedence; a List-Id: another list's post) is never
 * answered. */
static bool
is_automatic(const struct mime_part *root)
{
	const struct mime_header *h;
	struct buf v;
	const char *p;
	bool r = false;

	if (mime_header_find(root, "List-Id") != NULL)
		return true;

	buf_init(&v, 256);
	if ((h = mime_header_find(root, "Auto-Submitted")) != NULL &&
	    mime_header_unfold(h->value, h->value_len, &v) == 0 &&
	    buf_cstr(&v, &p) == 0) {
		while (*p == ' ' || *p == '\t')
			p++;
		r = !ascii_nieq(p, "no", 2);
	}
	buf_reset(&v);
	if (!r && (h = mime_header_find(root, "Precedence")) != NULL &&
	    mime_header_unfold(h->value, h->value_len, &v) == 0 &&
	    buf_cstr(&v, &p) == 0) {
		char *lower = xstrdup(p);

		ascii_lower(lower);
		r = strstr(lower, "bulk") != NULL ||
		    strstr(lower, "list") != NULL ||
		    strstr(lower, "junk") != NULL;
		free(lower);
	}
	buf_deinit(&v);
	return r;
}

/* RFC 3834 2: addresses of software, not people (mailer-daemon,
 * owner-*, *-request, *-bounces...), get no reply either. */
static bool
is_robot_address(const char *a)
{
	char local[65];
	const char *at = strrchr(a, '@');
	size_t n = at != NULL ? (size_t)(at - a) : strlen(a);

	if (n >= sizeof(local))
		return false;
	memcpy(local, a, n);	/* UNSAFE: n < sizeof(local), n <= strlen */
	local[n] = '\0';
	ascii_lower(local);
	return strcmp(local, "mailer-daemon") == 0 ||
	    strncmp(local, "owner-", 6) == 0 ||
	    (n >= 8 && strcmp(local + n - 8, "-request") == 0) ||
	    strstr(local, "-bounces") != NULL;
}

/* One reply per address (and list and kind) per LIST_REPLY_INTERVAL,
 * and at most so many an hour in all for this process (the queue runner:
 * the only one that answers list mail; a restart forgets), with separate
 * budgets for "could not serve" replies and confirmation requests, so
 * that a flood of one kind does not silence the other. Addresses hash
 * into slots with a per-process random key, so that nobody can pick a
 * sender that lands on a victim's slot; a collision may suppress a
 * reply, never allow one more. Pool threads: one mutex. Not the shared
 * dynscreen notify map: its hourly budget is the postmaster's alerts',
 * which outsiders writing to a list must not be able to use up. */
enum reply_budget { REPLY_UNSERVED = 0, REPLY_CONFIRM, REPLY_BUDGETS };

static const unsigned reply_budget_max[REPLY_BUDGETS] = {
	LIST_REPLY_MAX_PER_HOUR, LIST_CONFIRM_MAX_PER_HOUR,
};

static struct {
	pthread_mutex_t	 lock;
	uint64_t	 key;		/* 0: not drawn yet */
	time_t		 last[LIST_REPLY_SLOTS];
	time_t		 hour_start;
	unsigned	 hour_count[REPLY_BUDGETS];
} reply_gate = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
slot_hash(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = hash_mix64(h ^ (uint8_t)(*s >= 'A' && *s <= 'Z' ?
		    *s - 'A' + 'a' : *s));
	return hash_mix64(h ^ '\n');
}

static bool
reply_gate_allow(enum reply_budget budget, const char *list,
    const char *addr, time_t now)
{
	time_t *last;
	bool allow = false;

	if (pthread_mutex_lock(&reply_gate.lock) != 0)
		return false;
	while (reply_gate.key == 0)
		if (getrandom(&reply_gate.key, sizeof(reply_gate.key), 0) !=
		    (ssize_t)sizeof(reply_gate.key))
			reply_gate.key = (uint64_t)now ^ (uint64_t)getpid();
	last = &reply_gate.last[slot_hash(slot_hash(reply_gate.key, list),
	    addr) % LIST_REPLY_SLOTS];
	if (now < reply_gate.hour_start ||
	    now - reply_gate.hour_start >= 3600) {
		reply_gate.hour_start = now;
		memset(reply_gate.hour_count, 0,
		    sizeof(reply_gate.hour_count));
	}
	/* A clock that went back waits too: never a flood. */
	if ((*last == 0 || (now >= *last && now - *last >=
	    LIST_REPLY_INTERVAL)) &&
	    reply_gate.hour_count[budget] < reply_budget_max[budget]) {
		*last = now;
		reply_gate.hour_count[budget]++;
		allow = true;
	} else if (reply_gate.hour_count[budget] ==
	    reply_budget_max[budget])
		log_warnx("event=list-reply-budget-spent kind=%s max=%u "
		    "note=\"no more this hour\"", budget == REPLY_CONFIRM ?
		    "confirm" : "unserved", reply_budget_max[budget]);
	(void)pthread_mutex_unlock(&reply_gate.lock);
	return allow;
}

/* Answer someone we could not serve (kind names the case in the log):
 * never the null sender, automatic mail or a robot address, and only
 * as reply_gate_allow lets. Best effort: the request itself is done
 * whatever happens to the reply. */
static void
reply_unserved(const struct config *cfg, const struct queue_envelope *env,
    const struct list_info *li, bool automatic, const char *kind,
    const char *subject, const char *text)
{
	const char *why = NULL;

	if (env->from[0] == '\0')
		why = "null sender";
	else if (automatic)
		why = "automatic mail";
	else if (is_robot_address(env->from))
		why = "robot address";
	else if (!reply_gate_allow(REPLY_UNSERVED, li->address, env->from,
	    time(NULL)))
		why = "rate limit";
	if (why != NULL) {
		log_info("event=list-reply id=%s list=%s to=<%s> kind=%s "
		    "note=\"not answered: %s\"", env->id, li->address,
		    env->from, kind, why);
		return;
	}
	if (send_notice(cfg, li, env->from, subject, NULL, text, NULL, 0,
	    env) < 0) {
		log_warn("event=list-reply-failed id=%s list=%s to=<%s> "
		    "kind=%s", env->id, li->address, env->from, kind);
		return;
	}
	log_info("event=list-reply id=%s list=%s to=<%s> kind=%s", env->id,
	    li->address, env->from, kind);
}

static bool
is_hex_token(const char *p)
{
	size_t i;

	for (i = 0; i < LIST_TOKEN_LEN; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return !((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z'));
}

enum command { CMD_NONE, CMD_SUBSCRIBE, CMD_UNSUBSCRIBE, CMD_CONFIRM,
	CMD_HELP, CMD_SET_DIGEST, CMD_SET_EACH };

/* The command in text: "confirm TOKEN" anywhere (a reply's "Re: confirm
 * ..."), else a leading subscribe / unsubscribe / help word. */
static enum command
find_command(const char *text, char token[LIST_TOKEN_LEN + 1])
{
	const char *p;

	for (p = text; (p = strstr(p, "confirm")) != NULL; p++) {
		const char *t = p + 7;

		while (*t == ' ' || *t == '\t' || *t == ':')
			t++;
		if (is_hex_token(t)) {
			memcpy(token, t, LIST_TOKEN_LEN);
			token[LIST_TOKEN_LEN] = '\0';
			return CMD_CONFIRM;
		}
	}
	p = text;
	while (*p == ' ' || *p == '\t')
		p++;
	if (ascii_nieq(p, "re:", 3))
		for (p += 3; *p == ' ' || *p == '\t'; p++)
			;
	if (ascii_nieq(p, "unsubscribe", 11))
		return CMD_UNSUBSCRIBE;
	if (ascii_nieq(p, "subscribe", 9))
		return CMD_SUBSCRIBE;
	if (ascii_nieq(p, "help", 4))
		return CMD_HELP;
	/* "set digest" / "set each": a member's delivery mode. */
	if (ascii_nieq(p, "set", 3) && (p[3] == ' ' || p[3] == '\t')) {
		for (p += 3; *p == ' ' || *p == '\t'; p++)
			;
		if (ascii_nieq(p, "digest", 6))
			return CMD_SET_DIGEST;
		if (ascii_nieq(p, "each", 4))
			return CMD_SET_EACH;
	}
	return CMD_NONE;
}

/* The command of a LIST-request@ mail: in the subject, else in the first
 * non-empty line of the body. */
static enum command
request_command(const struct mime_message *mm, const uint8_t *msg,
    size_t len, char token[LIST_TOKEN_LEN + 1])
{
	const struct mime_header *h;
	enum command c = CMD_NONE;
	struct buf v;
	const char *p;
	char line[256];
	size_t off, i, n;

	buf_init(&v, 4096);
	if ((h = mime_header_find(mm->root, "Subject")) != NULL &&
	    mime_header_decode(h->value, h->value_len, &v) == 0 &&
	    buf_cstr(&v, &p) == 0) {
		char *lower = xstrdup(p);

		ascii_lower(lower);
		c = find_command(lower, token);
		free(lower);
	}
	buf_deinit(&v);
	if (c != CMD_NONE)
		return c;
	off = mm->root->body_off;
	if (off > len)
		return CMD_NONE;
	/* First non-empty line of at most LIST_REQUEST_SCAN octets. */
	for (i = off; i < len && i - off < LIST_REQUEST_SCAN; ) {
		for (n = 0; i < len && msg[i] != '\n' && n + 1 < sizeof(line);
		    i++)
			if (msg[i] != '\r')
				line[n++] = (char)msg[i];
		line[n] = '\0';
		while (i < len && msg[i] != '\n')
			i++;
		i++;
		if (n == 0)
			continue;
		ascii_lower(line);
		return find_command(line, token);
	}
	return CMD_NONE;
}

static void
help_text(const struct list_info *li, char *out, size_t outlen)
{
	snprintf(out, outlen,
	    "This is the mailing list %s (%s).\r\n\r\n"
	    "To join, send any mail to %s-subscribe@%s.\r\n"
	    "To leave, send any mail to %s-unsubscribe@%s.\r\n"
	    "Either way you get a confirmation to reply to.\r\n"
	    "Commands (in the subject) to %s-request@%s: subscribe,\r\n"
	    "unsubscribe, set digest, set each (one mail a post, the\r\n"
	    "default), confirm TOKEN, help.\r\n",
	    li->address, li->name, li->local, li->domain, li->local,
	    li->domain, li->local, li->domain);
}

/* A confirmation token for action by env->from, mailed to it with what
 * was asked ("to subscribe X to the list L"). 0, or -1 with reason set
 * (LIST_TEMP for the caller: the request is tried again). */
static int
send_confirmation(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    const char *action, const char *asked, char *reason, size_t reasonlen)
{
	char token[LIST_TOKEN_LEN + 1], subject[128], text[3072];
	const char *error = NULL;

	if (store_list_token_new(st, li->address, env->from, action,
	    cfg->list_token_ttl, NULL, 0, NULL, token, &error) < 0) {
		log_warnx("event=list-token-failed id=%s list=%s error=\"%s\"",
		    env->id, li->address, error);
		snprintf(reason, reasonlen, "4.3.0 %s", error);
		return -1;
	}
	snprintf(subject, sizeof(subject), "confirm %s", token);
	snprintf(text, sizeof(text),
	    "Someone (probably you) asked %s.\r\n\r\n"
	    "To confirm, reply to this message, or send a mail to\r\n"
	    "%s-confirm+%s@%s, or to %s-request@%s with the\r\n"
	    "subject \"confirm %s\".\r\n\r\n"
	    "If you did not ask for this, ignore this message: nothing\r\n"
	    "happens and the request expires in %u hours.\r\n", asked,
	    li->local, token, li->domain, li->local, li->domain, token,
	    cfg->list_token_ttl / 3600);
	if (send_notice(cfg, li, env->from, subject, token, text, NULL, 0,
	    env) < 0) {
		snprintf(reason, reasonlen, "4.3.0 queue write failed: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* A subscribe or unsubscribe request from the envelope sender. */
static enum list_outcome
ask_confirm(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    bool subscribe, char *reason, size_t reasonlen)
{
	char state[16], text[3072], gate[LIST_ADDR_MAX + 16];
	char asked[2 * LIST_ADDR_MAX + 64];
	const char *who = env->from, *error = NULL;
	bool created = false;

	if (store_list_member_state(st, li->address, who, state, NULL,
	    0) < 0) {
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return LIST_TEMP;
	}
	if (subscribe && strcmp(state, "active") == 0) {
		log_info("event=list-subscribe id=%s list=%s addr=<%s> "
		    "note=\"already a member\"", env->id, li->address, who);
		return LIST_DONE;
	}
	if (!subscribe && (state[0] == '\0' || strcmp(state, "pending") ==
	    0)) {
		log_info("event=list-unsubscribe id=%s list=%s addr=<%s> "
		    "note=\"not a member\"", env->id, li->address, who);
		snprintf(text, sizeof(text), "You (%s) asked to leave the list "
		    "%s,\r\nbut this address is not a member of it: nothing "
		    "was changed.\r\n", who, li->address);
		reply_unserved(cfg, env, li, false, "not-member",
		    "Not a member", text);
		return LIST_DONE;
	}
	/* One confirmation per address, list and kind an hour (and the
	 * process's hourly budget): forged requests cannot make us mail
	 * an address over and over. */
	snprintf(gate, sizeof(gate), "%s:%s", subscribe ? "subscribe" :
	    "unsubscribe", li->address);
	if (!reply_gate_allow(REPLY_CONFIRM, gate, who, time(NULL))) {
		log_info("event=list-%s-request id=%s list=%s addr=<%s> "
		    "note=\"not answered: rate limit\"", subscribe ?
		    "subscribe" : "unsubscribe", env->id, li->address, who);
		return LIST_DONE;
	}
	if (subscribe && state[0] == '\0' && store_list_member_put(st,
	    li->address, who, "pending", &created, &error) < 0) {
		/* An address we cannot store: nothing to confirm. */
		log_info("event=list-subscribe id=%s list=%s addr=<%s> "
		    "note=\"%s\"", env->id, li->address, who, error);
		return LIST_DONE;
	}
	snprintf(asked, sizeof(asked), "to %s %s the list %s", subscribe ?
	    "subscribe" : "unsubscribe", who, li->address);
	if (send_confirmation(st, cfg, env, li, subscribe ? "subscribe" :
	    "unsubscribe", asked, reason, reasonlen) < 0)
		return LIST_TEMP;
	log_info("event=list-%s-request id=%s list=%s addr=<%s>",
	    subscribe ? "subscribe" : "unsubscribe", env->id, li->address,
	    who);
	return LIST_DONE;
}

/* "set digest" / "set each" from a member (the envelope sender): a
 * confirmation, as for subscribing, so that nobody changes another's
 * mode by forging its address. */
static enum list_outcome
ask_mode(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    bool digest, char *reason, size_t reasonlen)
{
	const char *mode = digest ? "digest" : "each", *who = env->from;
	char state[16], text[3072], gate[LIST_ADDR_MAX + 16];
	char asked[2 * LIST_ADDR_MAX + 96];

	if (store_list_member_state(st, li->address, who, state, NULL,
	    0) < 0) {
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return LIST_TEMP;
	}
	if (strcmp(state, "active") != 0) {
		log_info("event=list-mode-request id=%s list=%s addr=<%s> "
		    "note=\"not a member\"", env->id, li->address, who);
		snprintf(text, sizeof(text), "You (%s) asked for the %s mode "
		    "of the list %s,\r\nbut this address is not a member of "
		    "it: nothing was changed.\r\n", who, mode, li->address);
		reply_unserved(cfg, env, li, false, "not-member",
		    "Not a member", text);
		return LIST_DONE;
	}
	if (digest && !li->digest) {
		log_info("event=list-mode-request id=%s list=%s addr=<%s> "
		    "note=\"no digest offered\"", env->id, li->address, who);
		snprintf(text, sizeof(text), "The list %s offers no digest: "
		    "nothing was changed.\r\n", li->address);
		reply_unserved(cfg, env, li, false, "no-digest",
		    "No digest", text);
		return LIST_DONE;
	}
	snprintf(gate, sizeof(gate), "%s:%s", mode, li->address);
	if (!reply_gate_allow(REPLY_CONFIRM, gate, who, time(NULL))) {
		log_info("event=list-mode-request id=%s list=%s addr=<%s> "
		    "note=\"not answered: rate limit\"", env->id, li->address,
		    who);
		return LIST_DONE;
	}
	snprintf(asked, sizeof(asked), "that %s get the list %s\r\n%s", who,
	    li->address, digest ? "as a digest (the posts gathered in one "
	    "mail)" : "one mail a post");
	if (send_confirmation(st, cfg, env, li, mode, asked, reason,
	    reasonlen) < 0)
		return LIST_TEMP;
	log_info("event=list-mode-request id=%s list=%s addr=<%s> mode=%s",
	    env->id, li->address, who, mode);
	return LIST_DONE;
}

/* A DMARC policy word as it goes into a held post's meta. */
static bool
held_word_ok(const char *w)
{
	size_t n = strlen(w);

	return n > 0 && n < 16 && strspn(w, "abcdefghijklmnopqrstuvwxyz") == n;
}

/* A held post's meta ("dmarc=P 8bit=0|1 utf8=0|1", list_request_hold)
 * into the envelope it is approved with; dmarc holds the policy. */
static void
held_meta_parse(const char *meta, struct queue_envelope *orig, char *dmarc,
    size_t dmarclen)
{
	const char *p;
	size_t n;

	if ((p = strstr(meta, "dmarc=")) != NULL) {
		p += 6;
		n = strcspn(p, " ");
		if (n < dmarclen) {
			memcpy(dmarc, p, n);	/* UNSAFE: n < dmarclen */
			dmarc[n] = '\0';
			if (held_word_ok(dmarc))
				orig->author_dmarc = dmarc;
		}
	}
	orig->eightbit = strstr(meta, " 8bit=1") != NULL;
	orig->smtputf8 = strstr(meta, " utf8=1") != NULL;
}

/* Carry out a taken token's action inside the caller's transaction:
 * 1 done (welcome / goodbye text in *notice when one is owed), -1 the
 * action failed (the caller rolls back, the token lives on). A queued
 * approved post's id goes to qid so that the caller can remove it when
 * the commit fails. */
static int
confirm_action(struct store *st, const struct config *cfg,
    const struct list_info *own, const char *action, const char *addr,
    const struct buf *data, const struct queue_envelope *orig,
    char qid[QUEUE_ID_LEN + 1], const char **notice, char *text,
    size_t textlen, const char **error)
{
	*notice = NULL;
	if (strcmp(action, "subscribe") == 0) {
		if (store_list_member_put(st, own->address, addr, "active",
		    NULL, error) < 0)
			return -1;
		help_text(own, text, textlen);
		*notice = "Welcome";
	} else if (strcmp(action, "unsubscribe") == 0) {
		if (store_list_member_del(st, own->address, addr, error) < 0) {
			/* Gone already: nothing to undo, nothing to say. */
			log_info("event=list-unsubscribed list=%s addr=<%s> "
			    "note=\"%s\"", own->address, addr, *error);
			return 1;
		}
		snprintf(text, textlen, "You (%s) have left the list %s.\r\n",
		    addr, own->address);
		*notice = "Goodbye";
	} else if (strcmp(action, "digest") == 0 ||
	    strcmp(action, "each") == 0) {
		if (store_list_member_mode(st, own->address, addr, action,
		    error) < 0)
			return -1;
	} else if (strcmp(action, "approve") == 0) {
		if (list_queue_mail(cfg, addr, own->address, "list-approved",
		    orig, data->data, data->len, qid) < 0 ||
		    list_queue_sync(cfg) < 0)
			return -1;
	} else {
		return 0;
	}
	return 1;
}

/* Before a delivery mode change ("digest" or "each" token) of a list
 * with digests: what waits for the digest goes out first, to the digest
 * members so far (list_digest_flush), outside the token's transaction.
 * Only for the token's own list (li, or any when li is NULL: moatctl).
 * Returns 0, or -1 when that failed (the token stays for a retry). */
static int
flush_before_mode_change(struct store *st, const struct config *cfg,
    const struct list_info *li, const char *token)
{
	char list[LIST_ADDR_MAX + 1], action[16];
	struct list_info own;
	const char *error = NULL;
	int r;

	if ((r = store_list_token_peek(st, token, list, action)) <= 0)
		return r;
	if ((strcmp(action, "digest") != 0 && strcmp(action, "each") != 0) ||
	    (li != NULL && !ascii_ieq(li->address, list)))
		return 0;
	if (store_list_get(st, list, &own, &error) < 0)
		return -1;
	return own.digest ? list_digest_flush(st, cfg, own.address) : 0;
}

int
list_request_confirm(struct store *st, const struct config *cfg,
    const struct list_info *li, const char *token, const char *session)
{
	char list[LIST_ADDR_MAX + 1], addr[LIST_ADDR_MAX + 1], action[16];
	char text[3072], qid[QUEUE_ID_LEN + 1];
	char meta[LIST_META_MAX + 1], dmarc[16];
	struct list_info own;
	struct queue_envelope orig;
	const char *error = NULL, *notice = NULL;
	struct buf data;
	int r;

	memset(&orig, 0, sizeof(orig));
	orig.session = (char *)(session ? session : "-");
	qid[0] = '\0';
	buf_init(&data, LIST_HELD_MAX);
	if (flush_before_mode_change(st, cfg, li, token) < 0) {
		buf_deinit(&data);
		return -1;
	}
	/* Take the token, act, commit: one transaction. When the action
	 * fails (a full disk, a database error) the rollback gives the
	 * token back and a retry finds it: nothing is lost. */
	if (store_list_tx(st, "BEGIN IMMEDIATE") < 0) {
		buf_deinit(&data);
		return -1;
	}
	r = store_list_token_take(st, token, list, addr, action, &data,
	    meta);
	if (r > 0)
		held_meta_parse(meta, &orig, dmarc, sizeof(dmarc));
	if (r > 0 && li != NULL && !ascii_ieq(li->address, list))
		r = 0;	/* spent anyway: only good at its own list */
	else if (r > 0 && store_list_get(st, list, &own, &error) < 0)
		r = -1;
	else if (r > 0)
		r = confirm_action(st, cfg, &own, action, addr, &data, &orig,
		    qid, &notice, text, sizeof(text), &error);
	if (r >= 0 && store_list_tx(st, "COMMIT") < 0) {
		error = "commit failed";
		r = -1;
		/* The token lives on: a retry queues the post again. */
		if (qid[0] != '\0' && queue_remove(cfg->data_dir, qid) < 0)
			log_warn("event=list-confirm-failed list=%s id=%s "
			    "note=\"approved post queued twice\"", list, qid);
	}
	if (r < 0) {
		(void)store_list_tx(st, "ROLLBACK");
		log_warnx("event=list-confirm-failed list=%s action=%s "
		    "addr=<%s> error=\"%s\"", list, action, addr,
		    error ? error : strerror(errno));
	} else if (r > 0) {
		log_info("event=list-confirmed list=%s action=%s addr=<%s>",
		    own.address, action, addr);
		/* After the commit: a notice is never sent for a change
		 * that did not happen. Best effort. */
		if (notice != NULL)
			(void)send_notice(cfg, &own, addr, notice, NULL, text,
			    NULL, 0, &orig);
	}
	buf_deinit(&data);
	return r;
}

/* The answer to a token we do not know (never made, used, expired). */
static void
reply_bad_token(const struct config *cfg, const struct queue_envelope *env,
    const struct list_info *li, bool automatic)
{
	char text[1024];

	snprintf(text, sizeof(text), "The confirmation you sent to the list "
	    "%s has a bad or\r\nexpired token (each one works once, for "
	    "%u hours): nothing\r\nwas changed. Start again to get a new "
	    "one; mail %s-request@%s\r\nwith the subject \"help\" for "
	    "how.\r\n", li->address, cfg->list_token_ttl / 3600, li->local,
	    li->domain);
	reply_unserved(cfg, env, li, automatic, "bad-token",
	    "Bad or expired token", text);
}

static enum list_outcome
confirm(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    const char *token, bool automatic, char *reason, size_t reasonlen)
{
	int r = list_request_confirm(st, cfg, li, token, env->session);

	if (r < 0) {
		snprintf(reason, reasonlen, "4.3.0 confirmation failed");
		return LIST_TEMP;
	}
	if (r == 0) {
		log_info("event=list-confirm id=%s list=%s from=<%s> "
		    "note=\"unknown or expired token\"", env->id, li->address,
		    env->from);
		reply_bad_token(cfg, env, li, automatic);
	}
	return LIST_DONE;
}

/* Is msg a DSN (RFC 3464) reporting a permanent failure: a
 * multipart/report of report-type delivery-status whose
 * message/delivery-status part (or RFC 6533 global-) has a recipient
 * with Action: failed and a Status: 5.x.x, both in that recipient's
 * block (blocks are separated by empty lines, 2.1)? Reads at most
 * LIST_DSN_SCAN octets. */
static bool
is_failure_dsn(const uint8_t *msg, size_t len)
{
	struct mime_message *mm;
	const struct mime_part *c;
	const struct mime_param *rt;
	bool failed = false, permanent = false;

	mm = mime_parse(msg, len < LIST_DSN_SCAN ? len : LIST_DSN_SCAN);
	if (mm->root->type == NULL || mm->root->subtype == NULL ||
	    strcmp(mm->root->type, "multipart") != 0 ||
	    strcmp(mm->root->subtype, "report") != 0 ||
	    (rt = mime_param_find(mm->root->params, mm->root->nparams,
	    "report-type")) == NULL || rt->value == NULL ||
	    !ascii_ieq(rt->value, "delivery-status")) {
		mime_message_free(&mm);
		return false;
	}
	for (c = mm->root->children; c != NULL; c = c->next) {
		size_t i, end;

		if (c->type == NULL || c->subtype == NULL ||
		    strcmp(c->type, "message") != 0 ||
		    (strcmp(c->subtype, "delivery-status") != 0 &&
		    strcmp(c->subtype, "global-delivery-status") != 0))
			continue;
		end = c->body_off + c->body_len;
		if (c->body_off > len || end > len || end < c->body_off)
			break;
		/* Field lines: "Action: failed", "Status: 5.x.x". */
		for (i = c->body_off; i < end && !(failed && permanent); ) {
			const char *l = (const char *)msg + i;
			size_t n = end - i, k;

			if (l[0] == '\n' || (n > 1 && l[0] == '\r' &&
			    l[1] == '\n')) {
				/* The next block: another recipient. */
				failed = permanent = false;
			} else if (n > 7 && ascii_nieq(l, "Action:", 7)) {
				for (k = 7; k < n && (l[k] == ' ' ||
				    l[k] == '\t'); k++)
					;
				if (n - k >= 6 && ascii_nieq(l + k, "failed",
				    6))
					failed = true;
			} else if (n > 7 && ascii_nieq(l, "Status:", 7)) {
				for (k = 7; k < n && (l[k] == ' ' ||
				    l[k] == '\t'); k++)
					;
				if (n - k >= 2 && l[k] == '5' && l[k + 1] ==
				    '.')
					permanent = true;
			}
			while (i < end && msg[i] != '\n')
				i++;
			i++;
		}
		break;
	}
	mime_message_free(&mm);
	return failed && permanent;
}

/* A DSN to LIST-bounces+local=domain+TAG@: one more bounce for the
 * member. */
static enum list_outcome
bounce(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    const char *arg, const uint8_t *msg, size_t len, char *reason,
    size_t reasonlen)
{
	char member[LIST_ADDR_MAX + 1], tag[LIST_VERP_TAG_LEN + 1], *eq, *plus;
	uint8_t key[LIST_VERP_KEY_LEN];
	const char *error = NULL;
	unsigned count;
	bool disabled;

	/* Only the null sender: DSNs come from it (RFC 5321 4.5.5), and
	 * nobody else may count against a member. */
	if (env->from[0] != '\0' || arg[0] == '\0' ||
	    strlen(arg) >= sizeof(member)) {
		log_info("event=list-bounce id=%s list=%s from=<%s> note=\"not "
		    "a DSN to a member address, dropped\"", env->id,
		    li->address, env->from);
		return LIST_DONE;
	}
	moat_strlcpy(member, arg, sizeof(member));
	/* The tag follows the last '+' (a domain has none). */
	if ((plus = strrchr(member, '+')) == NULL ||
	    strlen(plus + 1) != LIST_VERP_TAG_LEN ||
	    (eq = strrchr(member, '=')) == NULL || eq == member ||
	    eq > plus) {
		log_info("event=list-bounce id=%s list=%s note=\"bad VERP "
		    "address, dropped\"", env->id, li->address);
		return LIST_DONE;
	}
	*plus = '\0';
	*eq = '@';
	ascii_lower(member);
	if (store_list_verp_key(st, key) < 0) {
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return LIST_TEMP;
	}
	list_verp_tag(key, li->address, member, tag);
	if (!ascii_ieq(tag, plus + 1)) {
		log_info("event=list-bounce id=%s list=%s note=\"VERP tag does "
		    "not match, dropped\"", env->id, li->address);
		return LIST_DONE;
	}
	if (!is_failure_dsn(msg, len)) {
		log_info("event=list-bounce id=%s list=%s member=<%s> "
		    "note=\"not a DSN of a permanent failure, dropped\"",
		    env->id, li->address, member);
		return LIST_DONE;
	}
	if (store_list_bounce(st, li->address, member, cfg->list_bounce_limit,
	    &count, &disabled, &error) < 0) {
		if (strcmp(error, "no such member") == 0) {
			log_info("event=list-bounce id=%s list=%s member=<%s> "
			    "note=\"not a member\"", env->id, li->address,
			    member);
			return LIST_DONE;
		}
		snprintf(reason, reasonlen, "4.3.0 database update failed");
		return LIST_TEMP;
	}
	log_info("event=list-bounce id=%s list=%s member=<%s> bounces=%u",
	    env->id, li->address, member, count);
	if (disabled)
		log_warnx("event=list-member-disabled list=%s member=<%s> "
		    "bounces=%u", li->address, member, count);
	return LIST_DONE;
}

enum list_outcome
list_request_handle(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    enum list_role role, const char *arg, const uint8_t *msg, size_t len,
    char *reason, size_t reasonlen)
{
	struct mime_message *mm;
	char token[LIST_TOKEN_LEN + 1], text[3072];
	enum command c = CMD_NONE;
	bool automatic;

	if (role == LIST_ROLE_BOUNCES)
		return bounce(st, cfg, env, li, arg, msg, len, reason,
		    reasonlen);
	mm = mime_parse(msg, len < LIST_HEADERS_MAX ? len : LIST_HEADERS_MAX);
	automatic = is_automatic(mm->root);
	if (role == LIST_ROLE_REQUEST)
		c = request_command(mm, msg, len, token);
	mime_message_free(&mm);
	if (role == LIST_ROLE_CONFIRM) {
		if (strlen(arg) != LIST_TOKEN_LEN) {
			log_info("event=list-confirm id=%s list=%s note=\"bad "
			    "token\"", env->id, li->address);
			reply_bad_token(cfg, env, li, automatic);
			return LIST_DONE;
		}
		moat_strlcpy(token, arg, sizeof(token));
		ascii_lower(token);
		return confirm(st, cfg, env, li, token, automatic, reason,
		    reasonlen);
	}
	if (role == LIST_ROLE_REQUEST && c == CMD_CONFIRM)
		return confirm(st, cfg, env, li, token, automatic, reason,
		    reasonlen);
	if (env->from[0] == '\0' || automatic) {
		log_info("event=list-request id=%s list=%s from=<%s> "
		    "note=\"automatic mail, not answered\"", env->id,
		    li->address, env->from);
		return LIST_DONE;
	}
	if (role == LIST_ROLE_SUBSCRIBE || c == CMD_SUBSCRIBE)
		return ask_confirm(st, cfg, env, li, true, reason, reasonlen);
	if (role == LIST_ROLE_UNSUBSCRIBE || c == CMD_UNSUBSCRIBE)
		return ask_confirm(st, cfg, env, li, false, reason, reasonlen);
	if (c == CMD_SET_DIGEST || c == CMD_SET_EACH)
		return ask_mode(st, cfg, env, li, c == CMD_SET_DIGEST, reason,
		    reasonlen);
	/* "help", or a command we do not know (or none): the help text,
	 * within the reply limits. */
	if (c == CMD_HELP) {
		help_text(li, text, sizeof(text));
		reply_unserved(cfg, env, li, automatic, "help", "Help", text);
	} else {
		char help[2048];

		help_text(li, help, sizeof(help));
		snprintf(text, sizeof(text), "Your mail to %s-request@%s held "
		    "no command we know.\r\n\r\n%s", li->local, li->domain,
		    help);
		reply_unserved(cfg, env, li, automatic, "unknown-command",
		    "Unknown command", text);
	}
	(void)reason;
	(void)reasonlen;
	return LIST_DONE;
}

enum list_outcome
list_request_hold(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    const uint8_t *msg, size_t len, char *reason, size_t reasonlen)
{
	char token[LIST_TOKEN_LEN + 1], to[LIST_ADDR_MAX + 16];
	char subject[LIST_ADDR_MAX + 96], text[3072];
	char meta[LIST_META_MAX + 1];
	const char *error = NULL;

	if (len > LIST_HELD_MAX) {
		snprintf(reason, reasonlen, "5.3.4 message too large to hold "
		    "for moderation");
		return LIST_FAILED;
	}
	if (list_owner_address(st, li, to, sizeof(to)) < 0) {
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return LIST_TEMP;
	}
	/* The envelope facts the approved post needs again: the author's
	 * DMARC policy (From: rewriting), 8BITMIME, SMTPUTF8. */
	snprintf(meta, sizeof(meta), "dmarc=%s 8bit=%d utf8=%d",
	    env->author_dmarc != NULL && held_word_ok(env->author_dmarc) ?
	    env->author_dmarc : "-", env->eightbit ? 1 : 0,
	    env->smtputf8 ? 1 : 0);
	if (store_list_token_new(st, li->address, env->from, "approve",
	    cfg->list_token_ttl, msg, len, meta, token, &error) < 0) {
		snprintf(reason, reasonlen, "4.3.0 %s", error);
		return LIST_TEMP;
	}
	snprintf(subject, sizeof(subject), "confirm %s (approve a post to "
	    "%s)", token, li->address);
	snprintf(text, sizeof(text),
	    "A post from <%s> to the moderated list %s is held\r\n"
	    "(it is attached).\r\n\r\n"
	    "To approve it, reply to this message, or send a mail to\r\n"
	    "%s-confirm+%s@%s.\r\n"
	    "To reject it, do nothing: it is dropped in %u hours.\r\n",
	    env->from[0] ? env->from : "", li->address, li->local, token,
	    li->domain, cfg->list_token_ttl / 3600);
	if (send_notice(cfg, li, to, subject, token, text, msg, len,
	    env) < 0) {
		snprintf(reason, reasonlen, "4.3.0 queue write failed: %s",
		    strerror(errno));
		return LIST_TEMP;
	}
	log_info("event=list-held id=%s list=%s from=<%s> moderator=<%s>",
	    env->id, li->address, env->from, to);
	return LIST_DONE;
}
