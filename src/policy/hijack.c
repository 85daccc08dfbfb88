/* hijack: per-account sending limits, freezes, notifications and the
 * token reply that lifts a freeze. */
#include "hijack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "cidr.h"
#include "dynscreen.h"
#include "log.h"
#include "notify.h"
#include "queue.h"
#include "store.h"
#include "store_security.h"
#include "util.h"
#include "xalloc.h"

#define FROZEN_PREFIX		"frozen: "
#define ADMINS_MAX		16
#define ADDR_MAX		320

/* Clients on these networks are "local": their message limits are the
 * [hijack] local_messages ones (a web mail front end, an office). */
static const char *const local_nets[] = {
	"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
	"169.254.0.0/16", "100.64.0.0/10", "::1", "fc00::/7", "fe80::/10",
};

static bool
is_local_ip(const char *ip)
{
	struct cidr c;
	size_t i;

	for (i = 0; i < sizeof(local_nets) / sizeof(local_nets[0]); i++)
		if (cidr_parse(local_nets[i], &c) == 0 && cidr_match(&c, ip))
			return true;
	return false;
}

bool
hijack_is_admin(const struct config *cfg, const char *account,
    const char *for_domain)
{
	char pm[ADDR_MAX + 1];

	if (cfg->hj_admins[0] != '\0')
		return conf_list_has(cfg->hj_admins, account, false);
	if (for_domain == NULL) {
		const char *at = strrchr(account, '@');

		for_domain = at ? at + 1 : "";
	}
	snprintf(pm, sizeof(pm), "postmaster@%s", for_domain);
	return strcasecmp(account, pm) == 0;
}

bool
hijack_exempt(const struct config *cfg, const char *account)
{
	return hijack_is_admin(cfg, account, NULL) ||
	    conf_list_has(cfg->hj_exempt, account, false);
}

bool
hijack_frozen(struct dynscreen *dyn, const char *account, char *reason,
    size_t len)
{
	struct dyn_ban b;

	if (dyn == NULL || !dyn_acct_blocked(dyn, account, time(NULL), &b) ||
	    strncmp(b.reason, FROZEN_PREFIX, strlen(FROZEN_PREFIX)) != 0)
		return false;
	if (reason != NULL)
		snprintf(reason, len, "%s", b.reason + strlen(FROZEN_PREFIX));
	return true;
}

/* Add n to the account's counters of rates[0..nrates) (dyn metrics
 * first, first + 1, ...); true with reason when one is exceeded. */
static bool
count_rates(struct dynscreen *dyn, const char *account,
    const struct config_rate *rates, unsigned nrates,
    enum dyn_acct_metric first, unsigned n, const char *what,
    char *reason, size_t len)
{
	time_t now = time(NULL);
	bool over = false;
	unsigned i, v;

	for (i = 0; i < nrates && i < 3; i++) {
		if (rates[i].limit == 0)
			continue;
		v = dyn_acct_add(dyn, account, (enum dyn_acct_metric)(first +
		    i), n, rates[i].window, 0, now);
		if (v > rates[i].limit && !over) {
			snprintf(reason, len, "%u %s in %us (limit %u)", v,
			    what, rates[i].window, rates[i].limit);
			over = true;
		}
	}
	return over;
}

bool
hijack_count(const struct config *cfg, struct dynscreen *dyn,
    const struct hijack_msg *m, char *reason, size_t len)
{
	bool local, over;

	if (dyn == NULL || hijack_exempt(cfg, m->account))
		return false;
	local = is_local_ip(m->ip);
	over = local ?
	    count_rates(dyn, m->account, cfg->hj_local_messages,
	    cfg->nhj_local_messages, DYN_ACCT_LOCAL_MSG_MIN, 1, "messages",
	    reason, len) :
	    count_rates(dyn, m->account, cfg->hj_messages, cfg->nhj_messages,
	    DYN_ACCT_MSG_MIN, 1, "messages", reason, len);
	if (count_rates(dyn, m->account, cfg->hj_recipients,
	    cfg->nhj_recipients, DYN_ACCT_RCPT_MIN, (unsigned)m->nrcpts,
	    "recipients", reason, len) && !over)
		over = true;
	return over;
}

bool
hijack_login(const struct config *cfg, struct dynscreen *dyn,
    const char *account, const char *ip, char *reason, size_t len)
{
	struct dyn_ip k;
	unsigned n;

	if (dyn == NULL || cfg->hj_login_ips.limit == 0 ||
	    hijack_exempt(cfg, account) || dyn_ip_key(ip, 32, 64, &k) < 0)
		return false;
	n = dyn_acct_distinct_ip(dyn, account, DYN_DISTINCT_LOGIN_IPS, &k,
	    cfg->hj_login_ips.window, time(NULL));
	if (n <= cfg->hj_login_ips.limit)
		return false;
	snprintf(reason, len, "logins from %u addresses in %us (limit %u)",
	    n, cfg->hj_login_ips.window, cfg->hj_login_ips.limit);
	return true;
}

/* ---- jobs in the thread pool --------------------------------------- */

struct hijack_job {
	uv_work_t		 work;
	const struct config	*cfg;
	struct dynscreen	*dyn;
	char			*account;
	char			*ip;
	char			*session;
	char			*subject;
	char			**rcpts;
	size_t			 nrcpts;
	char			 reason[HIJACK_REASON_MAX];
	char			 token[STORE_TOKEN_LEN + 1];
	char			*who;
	bool			 from_admin;
};

static struct hijack_job *
job_new(const struct config *cfg, struct dynscreen *dyn,
    const struct hijack_msg *m)
{
	struct hijack_job *j = xcalloc(1, sizeof(*j));
	size_t i;

	j->work.data = j;
	j->cfg = cfg;
	j->dyn = dyn;
	if (m != NULL) {
		j->account = xstrdup(m->account);
		j->ip = xstrdup(m->ip ? m->ip : "-");
		j->session = xstrdup(m->session ? m->session : "-");
		j->subject = m->subject ? xstrndup(m->subject, 200) : NULL;
		j->rcpts = xcalloc(m->nrcpts ? m->nrcpts : 1, sizeof(char *));
		for (i = 0; i < m->nrcpts; i++)
			j->rcpts[i] = xstrdup(m->rcpts[i]);
		j->nrcpts = m->nrcpts;
	}
	return j;
}

static void
job_free(uv_work_t *w, int status)
{
	struct hijack_job *j = w->data;
	size_t i;

	(void)status;
	for (i = 0; i < j->nrcpts; i++)
		free(j->rcpts[i]);
	free(j->rcpts);
	free(j->account);
	free(j->ip);
	free(j->session);
	free(j->subject);
	free(j->who);
	free(j);
}

/* Only printable ASCII from client data goes into our message. */
static void
clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/* The admins' notification, with the token that unfreezes. */
static int
notify(const struct hijack_job *j)
{
	char to[1024], subject[256], last[256];
	struct buf body;
	size_t i;
	int r = -1;

	notify_admins(j->cfg, j->account, to, sizeof(to));
	snprintf(subject, sizeof(subject), "Account %s frozen [unfreeze %s]",
	    j->account, j->token);
	snprintf(last, sizeof(last), "%s", j->subject ? j->subject :
	    "(none)");
	clean(last);
	buf_init(&body, NOTIFY_BODY_MAX);
	if (buf_printf(&body, "moat froze the account %s: it looks "
	    "hijacked.\r\n\r\n"
	    "Reason:   %s\r\nClient:   %s\r\nSession:  %s\r\n"
	    "Subject of the last message: %s\r\n"
	    "Recipients of the last message (%zu):\r\n", j->account,
	    j->reason, j->ip, j->session, last, j->nrcpts) < 0)
		goto out;
	for (i = 0; i < j->nrcpts && i < HIJACK_SAMPLE_MAX; i++) {
		char rc[ADDR_MAX + 1];

		snprintf(rc, sizeof(rc), "%s", j->rcpts[i]);
		clean(rc);
		if (buf_printf(&body, "  %s\r\n", rc) < 0)
			goto out;
	}
	if (buf_printf(&body, "\r\n"
	    "Mail to the account is still delivered and its owner can still "
	    "read it.\r\nIt cannot send; its messages still queued are "
	    "held.\r\n\r\n"
	    "To unfreeze it, reply to this message from an admin account "
	    "(authenticated)\r\nkeeping the subject line; write RELEASE in "
	    "the subject to also send the held\r\nmessages. Or run:\r\n"
	    "  moatctl account unfreeze %s [--release]\r\n",
	    j->account) < 0 || buf_append(&body, "", 1) < 0)
		goto out;
	r = notify_send(j->cfg, to, j->session, subject,
	    (const char *)body.data);
out:
	buf_deinit(&body);
	return r;
}

/* The freeze itself, in a pool thread: the shared flag, the database,
 * the notification (rate-limited per account). */
static void
freeze_now(struct hijack_job *j)
{
	struct store *st;
	const char *error = NULL;
	char flag[64], topic[ADDR_MAX + 16];
	bool was = false;
	time_t now = time(NULL);

	snprintf(flag, sizeof(flag), FROZEN_PREFIX "%.50s", j->reason);
	if (j->dyn != NULL && dyn_acct_block_until(j->dyn, j->account,
	    DYN_BAN_FOREVER, flag, now) < 0)
		log_warnx("hijack account=%s event=flag-failed", j->account);
	if ((st = store_thread(j->cfg->data_dir, &error)) == NULL ||
	    store_account_freeze(st, j->account, j->reason, now, j->token,
	    &was, &error) < 0) {
		log_warnx("hijack account=%s event=freeze-failed error=\"%s\"",
		    j->account, error ? error : "-");
		return;
	}
	if (was)
		return;
	log_info("hijack event=frozen account=%s ip=%s reason=\"%s\" "
	    "session=%s held=%d", j->account, j->ip, j->reason, j->session,
	    queue_hold_auth(j->cfg->data_dir, j->account, true));
	snprintf(topic, sizeof(topic), "freeze %s", j->account);
	if (j->dyn != NULL && !dyn_notify_allow(j->dyn, topic,
	    j->cfg->notify_interval, now)) {
		log_info("hijack account=%s event=notify-suppressed "
		    "note=\"rate limit\"", j->account);
		return;
	}
	if (notify(j) < 0)
		log_warn("hijack account=%s event=notify-failed", j->account);
}

static void
freeze_work(uv_work_t *w)
{
	freeze_now(w->data);
}

void
hijack_freeze(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn, const struct hijack_msg *m, const char *reason)
{
	struct hijack_job *j;

	if (cfg->hj_mode == MODE_SHADOW) {
		log_info("hijack event=shadow-freeze account=%s ip=%s "
		    "reason=\"%s\" session=%s", m->account, m->ip, reason,
		    m->session);
		return;
	}
	j = job_new(cfg, dyn, m);
	snprintf(j->reason, sizeof(j->reason), "%s", reason);
	/* The flag first, here: the next MAIL of any session sees it. */
	if (dyn != NULL) {
		char flag[64];

		snprintf(flag, sizeof(flag), FROZEN_PREFIX "%.50s", reason);
		(void)dyn_acct_block_until(dyn, m->account, DYN_BAN_FOREVER,
		    flag, time(NULL));
	}
	if (uv_queue_work(loop, &j->work, freeze_work, job_free) != 0) {
		freeze_now(j);
		job_free(&j->work, 0);
	}
}

static void
after_queue_work(uv_work_t *w)
{
	struct hijack_job *j = w->data;
	const struct config_rate *r = &j->cfg->hj_first_rcpts;
	struct store *st;
	const char *error = NULL;
	unsigned fresh = 0, v;

	if ((st = store_thread(j->cfg->data_dir, &error)) == NULL ||
	    store_sent_rcpts(st, j->account, j->rcpts, j->nrcpts, time(NULL),
	    &fresh) < 0) {
		log_warnx("hijack account=%s event=sent-record-failed",
		    j->account);
		return;
	}
	if (fresh == 0 || r->limit == 0 || j->dyn == NULL)
		return;
	v = dyn_acct_add(j->dyn, j->account, DYN_ACCT_FIRST_RCPT_DAY, fresh,
	    r->window, 0, time(NULL));
	if (v <= r->limit)
		return;
	snprintf(j->reason, sizeof(j->reason), "%u first-time recipients in "
	    "%us (limit %u)", v, r->window, r->limit);
	if (j->cfg->hj_mode == MODE_SHADOW) {
		log_info("hijack event=shadow-freeze account=%s reason=\"%s\"",
		    j->account, j->reason);
		return;
	}
	freeze_now(j);
}

void
hijack_after_queue(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn, const struct hijack_msg *m)
{
	struct hijack_job *j;

	if (hijack_exempt(cfg, m->account))
		return;
	j = job_new(cfg, dyn, m);
	if (uv_queue_work(loop, &j->work, after_queue_work, job_free) != 0)
		job_free(&j->work, 0);
}

/* ---- the admin's reply --------------------------------------------- */

int
hijack_subject_token(const char *subject, char *token, size_t len)
{
	const char *p = subject ? strcasestr(subject, "unfreeze ") : NULL;
	size_t n = 0;

	if (p == NULL || len < STORE_TOKEN_LEN + 1)
		return -1;
	p += strlen("unfreeze ");
	while (n < STORE_TOKEN_LEN && ((p[n] >= '0' && p[n] <= '9') ||
	    (p[n] >= 'a' && p[n] <= 'f')))
		n++;
	if (n != STORE_TOKEN_LEN)
		return -1;
	memcpy(token, p, n);
	token[n] = '\0';
	return 0;
}

static void
unfreeze_work(uv_work_t *w)
{
	struct hijack_job *j = w->data;
	struct store *st;
	const char *error = NULL;
	char account[ADDR_MAX + 1];
	int r;

	if ((st = store_thread(j->cfg->data_dir, &error)) == NULL) {
		log_warnx("hijack event=unfreeze-failed error=\"%s\"", error);
		return;
	}
	r = store_unfreeze_by_token(st, j->token, account, sizeof(account));
	if (r == 1) {
		log_info("hijack event=unfreeze-ignored who=%s session=%s "
		    "reason=\"no frozen account has that token\"", j->who,
		    j->session);
		return;
	}
	if (r < 0) {
		log_warnx("hijack event=unfreeze-failed session=%s",
		    j->session);
		return;
	}
	if (j->dyn != NULL)
		(void)dyn_acct_unblock(j->dyn, account, time(NULL));
	if (j->subject != NULL && strcasestr(j->subject, "release") != NULL &&
	    queue_hold_auth(j->cfg->data_dir, account, false) < 0)
		log_warn("hijack account=%s event=release-failed", account);
	log_info("hijack event=unfrozen account=%s by=%s session=%s%s",
	    account, j->who, j->session, j->subject &&
	    strcasestr(j->subject, "release") ? " released=yes" : "");
}

bool
hijack_reply(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn, const char *subject, bool from_admin,
    const char *who, const char *session)
{
	struct hijack_job *j;
	char token[STORE_TOKEN_LEN + 1];

	if (hijack_subject_token(subject, token, sizeof(token)) < 0)
		return false;
	if (!from_admin) {
		log_warnx("hijack event=unfreeze-ignored who=%s session=%s "
		    "reason=\"not provably from an admin\"", who, session);
		return true;
	}
	j = job_new(cfg, dyn, NULL);
	memcpy(j->token, token, sizeof(token));
	j->who = xstrdup(who);
	j->session = xstrdup(session);
	j->subject = xstrndup(subject, 300);
	if (uv_queue_work(loop, &j->work, unfreeze_work, job_free) != 0)
		job_free(&j->work, 0);
	return true;
}
