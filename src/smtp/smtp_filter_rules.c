/* smtp_filter_rules: the stage of the admin's content-filter rules, last
 * in the chain. The rule file ([filter] rules) is stat'ed at most once a
 * second per worker and parsed again when it changed (inode, size,
 * mtime); a file with errors keeps the rules in force and logs why. The
 * conditions are evaluated in the thread pool (regexes over the body),
 * the actions applied back on the loop, in order, each hit logged as
 * event=rule under the session id. Every worker loads the file when it
 * starts and looks again every second from a timer, not only when mail
 * comes: so all workers hold the same last good rules, also when a
 * broken file is written (each keeps what it had). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "content.h"
#include "dmarc.h"
#include "log.h"
#include "notify.h"
#include "rules.h"
#include "rules_parse.h"
#include "screen.h"
#include "spf.h"
#include "util.h"
#include "xalloc.h"
#include "smtp_session_private.h"

#define RULES_CHECK_MS		1000	/* stat the file at most this often */
#define RULES_SCAN_DECODED	(64ULL * 1024 * 1024)	/* own content scan */
#define RULES_SCAN_DEPTH	16
#define RULES_SCAN_PARTS	1000
#define RULES_NOTIFY_LINE	512

/* One rule set per worker process, shared by the jobs in flight. */
static struct rules *rules_cur;
static uint64_t rules_checked;		/* uv_now of the last stat */
static bool rules_have_stat;
static bool rules_missing;		/* warned that it is gone */
static struct stat rules_stat;

struct rules_job {
	uv_work_t		 work;
	struct smtp_session	*s;
	struct rules		*rules;		/* a reference */
	struct rules_input	 in;
	struct content_info	*ci;		/* our own scan, or NULL */
	struct rules_part	*parts;
	struct rules_hits	 hits;
	/* A copy: the connection (and its peer_ip) is freed when the
	 * client goes while the job is in the pool. */
	char			 ip[sizeof(((struct conn *)0)->peer_ip)];
};

static void
rules_release(struct rules *r)
{
	if (r != NULL && --r->refs == 0)
		rules_free(r);
}

static void
rules_path(const struct config *cfg, char *out, size_t len)
{
	if (cfg->filter_rules[0] == '/')
		moat_strlcpy(out, cfg->filter_rules, len);
	else {
		moat_strlcpy(out, cfg->data_dir, len);
		moat_strlcat(out, "/", len);
		moat_strlcat(out, cfg->filter_rules, len);
	}
}

/* Parse the file again when it changed since the last look. */
static void
rules_refresh(const struct config *cfg, uint64_t now)
{
	char path[CONFIG_PATH_MAX + 256], err[600];
	struct rules *r;
	struct stat st;

	if (cfg->filter_rules[0] == '\0')
		return;
	if (rules_checked != 0 && now - rules_checked < RULES_CHECK_MS)
		return;
	rules_checked = now != 0 ? now : 1;
	rules_path(cfg, path, sizeof(path));
	if (stat(path, &st) < 0) {
		/* Keep what is in force; warn once until it comes back. */
		if (!rules_missing)
			log_warn("rules event=unreadable file=%s note=\"%s\"",
			    path, rules_cur != NULL ? "previous rules kept" :
			    "no rules in force");
		rules_missing = true;
		rules_have_stat = false;
		return;
	}
	if (rules_have_stat && st.st_ino == rules_stat.st_ino &&
	    st.st_dev == rules_stat.st_dev &&
	    st.st_size == rules_stat.st_size &&
	    st.st_mtim.tv_sec == rules_stat.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == rules_stat.st_mtim.tv_nsec)
		return;
	rules_stat = st;
	rules_have_stat = true;
	rules_missing = false;
	if (rules_load(path, &r, err, sizeof(err)) < 0) {
		log_warnx("rules event=load_failed error=\"%s\" note=\"%s\"",
		    err, rules_cur != NULL ? "previous rules kept" :
		    "no rules in force");
		return;
	}
	rules_release(rules_cur);
	r->refs = 1;
	rules_cur = r;
	log_info("rules event=loaded file=%s rules=%u", path, r->nrules);
}

static uv_timer_t rules_timer;
static const struct config *rules_cfg;

static void
rules_tick(uv_timer_t *t)
{
	rules_refresh(rules_cfg, uv_now(t->loop));
}

void
smtp_filter_rules_start(uv_loop_t *loop, const struct config *cfg)
{
	if (cfg->filter_rules[0] == '\0')
		return;
	rules_cfg = cfg;
	rules_refresh(cfg, uv_now(loop));
	if (uv_timer_init(loop, &rules_timer) != 0 ||
	    uv_timer_start(&rules_timer, rules_tick, RULES_CHECK_MS,
	    RULES_CHECK_MS) != 0) {
		log_warnx("rules event=timer-failed note=\"changes are seen "
		    "when mail comes\"");
		return;
	}
	/* It never keeps a draining worker alive. */
	uv_unref((uv_handle_t *)&rules_timer);
}

static void
rules_work(uv_work_t *w)
{
	struct rules_job *j = w->data;
	struct smtp_session *s = j->s;
	const struct content_info *ci = s->content;
	struct content_limits lim;
	size_t i, n = 0;

	j->in.msg = s->msg.data + s->received_len;
	j->in.len = s->msg.len - s->received_len;
	j->in.size = j->in.len;
	if (ci == NULL) {
		/* The attachment stage did not describe the message. */
		memset(&lim, 0, sizeof(lim));
		lim.max_decoded = RULES_SCAN_DECODED;
		lim.max_depth = RULES_SCAN_DEPTH;
		lim.max_parts = RULES_SCAN_PARTS;
		lim.archives = true;
		j->ci = content_scan(j->in.msg, j->in.len, &lim);
		ci = j->ci;
	}
	/* A part with another name it may be saved under (a gzip's) is
	 * offered to the conditions under both. */
	j->parts = xcalloc(2 * ci->nparts + 1, sizeof(*j->parts));
	for (i = 0; i < ci->nparts; i++) {
		const struct content_part *p = &ci->parts[i];
		const char *names[2] = { p->name, p->alt_name };
		size_t k;

		if (!p->attachment && p->name[0] == '\0')
			continue;
		for (k = 0; k < 2; k++) {
			if (k > 0 && names[k][0] == '\0')
				break;
			j->parts[n].name = names[k];
			j->parts[n].type = p->type;
			j->parts[n].detected = p->detected;
			j->parts[n].size = p->size;
			n++;
		}
	}
	j->in.parts = j->parts;
	j->in.nparts = n;
	rules_eval(j->rules, &j->in, &j->hits);
}

static void
add_rcpt(struct smtp_session *s, const char *addr)
{
	size_t i;

	for (i = 0; i < s->nrcpts; i++)
		if (ascii_ieq(s->rcpts[i], addr))
			return;
	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(char *));
	s->rcpts[s->nrcpts++] = xstrdup(addr);
}

static void
rules_notify(struct smtp_session *s, const struct rules_rule *rule,
    const struct rules_action *a)
{
	const struct config *cfg = s->srv->base.cfg;
	char to[1024], topic[RULES_NAME_MAX + 256], subject[200];
	char line[RULES_NOTIFY_LINE];
	struct buf body;
	const char *text;
	size_t i;

	if (a->type == RA_NOTIFY_ADMIN)
		notify_admins(cfg, NULL, to, sizeof(to));
	else if (s->from[0] == '\0')
		return;		/* nobody to tell (a bounce) */
	else if (smtp_filter_inbound(s) && s->spf_result != SPF_PASS &&
	    (s->dmarc_result == NULL ||
	    s->dmarc_result->status != DMARC_PASS)) {
		/* Telling a sender anyone could have forged is
		 * backscatter: only our users and verified senders. */
		log_info("smtp session=%s event=rule-notify-skipped rule=%s "
		    "reason=\"sender not verified\"", s->base.id, rule->name);
		return;
	} else
		moat_strlcpy(to, s->from, sizeof(to));
	buf_init(&body, NOTIFY_BODY_MAX);
	if (a->text != NULL)
		(void)buf_printf(&body, "%s\r\n\r\n", a->text);
	(void)buf_printf(&body, "Rule: %s\r\nSession: %s\r\nSender: <%s>\r\n",
	    rule->name, s->base.id, s->from);
	for (i = 0; i < s->nrcpts && i < 50; i++) {
		log_escape(line, sizeof(line), s->rcpts[i],
		    strlen(s->rcpts[i]));
		(void)buf_printf(&body, "Recipient: <%s>\r\n", line);
	}
	(void)buf_printf(&body, "Client: [%s]\r\n", s->base.conn->peer_ip);
	if (a->type == RA_NOTIFY_ADMIN) {
		snprintf(subject, sizeof(subject), "Content filter: rule %s "
		    "matched", rule->name);
		snprintf(topic, sizeof(topic), "rule:%s", rule->name);
	} else {
		snprintf(subject, sizeof(subject), "Your message was "
		    "filtered (rule %s)", rule->name);
		/* Per sender, so that one sender does not hide another. */
		snprintf(topic, sizeof(topic), "rule:%s:%.200s", rule->name,
		    s->from);
	}
	if (buf_cstr(&body, &text) == 0)
		notify_async(s->srv->base.loop, cfg,
		    s->srv->base.screen != NULL ?
		    screen_dyn(s->srv->base.screen) : NULL, topic, to, subject,
		    text);
	buf_deinit(&body);
}

/* Apply one action; true when the transaction is over (reply sent). */
static bool
rules_apply(struct smtp_session *s, const struct rules_rule *rule,
    const struct rules_action *a)
{
	struct buf *msg = &s->msg;
	size_t off = s->received_len;
	unsigned n = 0, i;
	int r = 0;

	log_info("smtp session=%s event=rule rule=%s action=%s", s->base.id,
	    rule->name, rules_action_name(a->type));
	trace_add(&s->trace, "rules", "rule %s: %s", rule->name,
	    rules_action_name(a->type));
	switch (a->type) {
	case RA_REJECT:
		smtp_refuse(s, rule->name, a->code, "%s", a->text);
		smtp_filter_refused(s);
		return true;
	case RA_DISCARD:
		smtp_filter_discard(s);
		return true;
	case RA_QUARANTINE:
		if (a->text != NULL)
			moat_strlcpy(s->hold_reason, a->text,
			    sizeof(s->hold_reason));
		else
			snprintf(s->hold_reason, sizeof(s->hold_reason),
			    "rule %s", rule->name);
		break;
	case RA_ADD_HEADER:
		r = rules_header_add(msg, off, a->name, a->text);
		break;
	case RA_REMOVE_HEADER:
		r = rules_header_remove(msg, off, a->name, NULL);
		break;
	case RA_REPLACE_HEADER:
		r = rules_header_replace(msg, off, a->name, a->text);
		break;
	case RA_TAG_SUBJECT:
		r = rules_subject_tag(msg, off, a->text);
		break;
	case RA_REDIRECT:
		for (i = 0; i < s->nrcpts; i++)
			free(s->rcpts[i]);
		s->nrcpts = 0;
		/* FALLTHROUGH */
	case RA_COPY:
		for (i = 0; i < a->naddrs; i++)
			add_rcpt(s, a->addrs[i]);
		break;
	case RA_STRIP:
		r = rules_strip(msg, off, a->text, rule->name, &n);
		if (r == 0)
			log_info("smtp session=%s event=rule rule=%s "
			    "stripped=%u", s->base.id, rule->name, n);
		break;
	case RA_NOTIFY_ADMIN:
	case RA_NOTIFY_SENDER:
		rules_notify(s, rule, a);
		break;
	case RA_ACCEPT:
	case RA_STOP:
		break;
	}
	if (r < 0)
		log_warnx("smtp session=%s event=rule rule=%s action=%s "
		    "error=\"message too large for the edit\"", s->base.id,
		    rule->name, rules_action_name(a->type));
	return false;
}

static void
rules_job_free(struct rules_job *j)
{
	rules_release(j->rules);
	free(j->parts);
	content_info_free(j->ci);
	free(j);
}

static void
rules_done(uv_work_t *w, int status)
{
	struct rules_job *j = w->data;
	struct smtp_session *s = j->s;
	unsigned h, k;

	if (!smtp_filter_back(s)) {
		rules_job_free(j);
		return;
	}
	if (s->content == NULL) {
		/* Keep our scan for whoever looks next. */
		s->content = j->ci;
		j->ci = NULL;
	}
	for (h = 0; status == 0 && h < j->hits.n; h++) {
		const struct rules_rule *rule = &j->rules->rules[j->hits.idx[h]];

		for (k = 0; k < rule->nactions; k++)
			if (rules_apply(s, rule, &rule->actions[k])) {
				rules_job_free(j);
				return;
			}
	}
	rules_job_free(j);
	smtp_filter_next(s);
}

void
smtp_filter_rules(struct smtp_session *s)
{
	struct rules_job *j;

	rules_refresh(s->srv->base.cfg, uv_now(s->srv->base.loop));
	if (rules_cur == NULL || rules_cur->nrules == 0) {
		smtp_filter_next(s);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->s = s;
	j->rules = rules_cur;
	rules_cur->refs++;
	j->in.sender = s->from;
	j->in.rcpts = (const char *const *)s->rcpts;
	j->in.nrcpts = s->nrcpts;
	j->in.inbound = smtp_filter_inbound(s);
	j->in.authenticated = s->authenticated;
	j->in.auth_user = s->auth_user;
	j->in.spf = s->spf_result >= 0 ?
	    spf_result_name((enum spf_result)s->spf_result) : "";
	j->in.dmarc = s->dmarc_result != NULL ?
	    dmarc_status_name(s->dmarc_result->status) : "";
	j->in.spam_scored = s->spam_scored;
	j->in.spam_score = s->spam_score;
	j->in.virus = s->virus;
	moat_strlcpy(j->ip, s->base.conn->peer_ip, sizeof(j->ip));
	j->in.ip = j->ip;
	if (!smtp_filter_pool(s, &j->work, rules_work, rules_done)) {
		/* No pool: evaluate here rather than skip the rules. */
		rules_work(&j->work);
		rules_done(&j->work, 0);
	}
}
