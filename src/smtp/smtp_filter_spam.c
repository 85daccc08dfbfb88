/* smtp_filter_spam: the spam stage. Mail from outside (not
 * authenticated, not from trusted networks) is scored by the Bayesian
 * filter in the thread pool: X-Spam-Score and X-Spam-Status headers, the
 * Junk folder at [spam] junk_score, a refusal at reject_score, and
 * auto-learning of the very sure cases (global only). When every
 * recipient ends at one and the same local account, the score uses that
 * user's own training too ([spam] per_user; bayes adds it once the user
 * has taught user_min messages). The Bayesian probability is then moved
 * by the spam rules (spam_rules.h: what the session learnt about the
 * sender, header anomalies, link tricks); X-Spam-Score and the actions
 * use the combined score, X-Spam-Status shows both parts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "dmarc.h"
#include "log.h"
#include "spam_rules.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"
#include "smtp_session_private.h"

/* One classifier per worker process: its token cache is shared by the
 * pool threads that score, one at a time (a score takes ~0.1 ms). */
static pthread_mutex_t spam_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bayes *spam_filter;
static struct store *spam_store;
static bool spam_broken;

struct spam_job {
	uv_work_t		 work;
	struct smtp_session	*s;
	struct bayes_result	 r;
	struct spam_facts	 facts;		/* filled on the loop */
	struct spam_rules_result rules;
	double			 score;		/* combined */
	int			 status;	/* 0, or -1: not scored */
	bool			 learned;
	char			 user[BAYES_SCOPE_MAX + 1];	/* "": global */
};

/* What the recipients resolve to: one account, or not (mixed). */
struct spam_rcpt {
	char	 user[BAYES_SCOPE_MAX + 1];
	bool	 mixed;
};

static void
spam_target(void *ctx, const char *local, const char *domain,
    bool is_account)
{
	struct spam_rcpt *t = ctx;
	char addr[BAYES_SCOPE_MAX + 1];
	int n;

	n = snprintf(addr, sizeof(addr), "%s@%s", local, domain);
	if (!is_account || n < 0 || (size_t)n >= sizeof(addr)) {
		t->mixed = true;
		return;
	}
	if (t->user[0] == '\0')
		moat_strlcpy(t->user, addr, sizeof(t->user));
	else if (strcmp(t->user, addr) != 0)
		t->mixed = true;
}

/* The account every recipient reaches (aliases expanded) into user_r,
 * or "" when they reach several, a remote one or none. Called with
 * spam_lock held (spam_store). */
static void
spam_user(struct smtp_session *s, char *user_r, size_t userlen)
{
	struct spam_rcpt t;
	char local[BAYES_SCOPE_MAX + 1];
	const char *at;
	size_t i;

	user_r[0] = '\0';
	memset(&t, 0, sizeof(t));
	for (i = 0; i < s->nrcpts && !t.mixed; i++) {
		at = strrchr(s->rcpts[i], '@');
		if (at == NULL || (size_t)(at - s->rcpts[i]) >= sizeof(local)) {
			t.mixed = true;
			break;
		}
		memcpy(local, s->rcpts[i], (size_t)(at - s->rcpts[i]));
		local[at - s->rcpts[i]] = '\0';
		if (store_resolve(spam_store, local, at + 1, spam_target,
		    &t) <= 0)
			t.mixed = true;	/* nobody, or a database error */
	}
	if (!t.mixed)
		moat_strlcpy(user_r, t.user, userlen);
}

static void
spam_work(uv_work_t *w)
{
	struct spam_job *j = w->data;
	const struct config *cfg = j->s->srv->base.cfg;
	const struct buf *msg = &j->s->msg;
	const uint8_t *p = msg->data + j->s->received_len;
	size_t len = msg->len - j->s->received_len;
	const char *error = NULL;
	struct bayes_params params;
	double score;

	j->status = -1;
	pthread_mutex_lock(&spam_lock);
	if (spam_filter == NULL && !spam_broken) {
		if (store_open(cfg->data_dir, &spam_store, &error) < 0) {
			log_warnx("spam event=unavailable error=\"%s\"",
			    error);
			spam_broken = true;
		} else {
			bayes_params_default(&params);
			params.user_min = cfg->spam_user_min;
			spam_filter = bayes_new(spam_store, &params);
		}
	}
	if (spam_filter != NULL && cfg->spam_per_user)
		spam_user(j->s, j->user, sizeof(j->user));
	if (spam_filter != NULL && bayes_score(spam_filter, p, len,
	    j->user[0] != '\0' ? j->user : NULL, &j->r) == 0) {
		j->status = 0;
		score = j->r.score * 100.0;
		/* Auto-learn only what the filter is very sure of. */
		if (!j->r.untrained && (score >= cfg->spam_learn_spam ||
		    score <= cfg->spam_learn_ham))
			j->learned = bayes_learn(spam_filter, p, len,
			    score >= cfg->spam_learn_spam ? BAYES_SPAM :
			    BAYES_HAM, NULL, BAYES_LEARN_GLOBAL) == 0;
	}
	pthread_mutex_unlock(&spam_lock);
	if (j->status == 0) {
		spam_rules_eval(&j->facts, p, len, &j->rules);
		j->score = spam_rules_combine(j->r.score, j->rules.sum);
	}
}

static void
spam_done(uv_work_t *w, int status)
{
	struct spam_job *j = w->data;
	struct smtp_session *s = j->s;
	const struct config *cfg = s->srv->base.cfg;
	char line[SPAM_RULES_FORMAT_MAX + 256], esc[2 * BAYES_SCOPE_MAX + 8];
	char hits[SPAM_RULES_FORMAT_MAX];
	unsigned pct;

	if (!smtp_filter_back(s)) {
		free(j);
		return;
	}
	if (status == 0 && j->status == 0) {
		pct = (unsigned)(j->score * 100.0 + 0.5);
		s->spam_scored = true;
		s->spam_score = j->score;
		spam_rules_format(&j->rules, hits, sizeof(hits));
		log_escape(esc, sizeof(esc), j->user, strlen(j->user));
		log_info("smtp session=%s event=spam score=%.3f verdict=%s "
		    "clues=%zu user=\"%s\" personal=%s bayes=%.3f "
		    "rules=\"%s\"%s", s->base.id, j->score,
		    bayes_verdict_name(j->r.verdict), j->r.nclues,
		    j->user[0] != '\0' ? esc : "", j->r.user ? "yes" : "no",
		    j->r.score, hits, j->learned ? " learned=yes" : "");
		trace_add(&s->trace, "spam", "score %.3f (bayes %.3f, %s; "
		    "rules %+.1f: %s), %zu clues", j->score, j->r.score,
		    bayes_verdict_name(j->r.verdict), j->rules.sum, hits,
		    j->r.nclues);
		if (cfg->spam_reject > 0 && pct >= cfg->spam_reject) {
			free(j);
			smtp_refuse(s, "spam score", 550, "5.7.1 Message "
			    "refused: it looks like spam (score %u)", pct);
			smtp_filter_refused(s);
			return;
		}
		snprintf(line, sizeof(line), "X-Spam-Status: %s, score=%.3f "
		    "bayes=%.3f tokens=%zu clues=%zu rules=%s\r\n"
		    "X-Spam-Score: %.3f\r\n",
		    pct >= cfg->spam_junk ? "Yes" : j->r.verdict ==
		    BAYES_VERDICT_UNSURE ? "Unsure" : "No", j->score,
		    j->r.score, j->r.ntokens, j->r.nclues, hits, j->score);
		smtp_filter_insert_header(s, line);
		if (pct >= cfg->spam_junk)
			s->quarantine = true;	/* the Junk folder */
	}
	free(j);
	smtp_filter_next(s);
}

/* Score mail from outside; everything else goes straight on. */
void
smtp_filter_spam(struct smtp_session *s)
{
	struct spam_job *j;

	if (!s->srv->base.cfg->spam || !smtp_filter_inbound(s)) {
		smtp_filter_next(s);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->s = s;
	spam_facts_init(&j->facts);
	j->facts.dnsbl_score = s->dnsbl_score;
	j->facts.spf = s->spf_result;
	j->facts.rdns_missing = s->rdns_none;
	if (s->dmarc_result != NULL) {
		j->facts.dmarc = (int)s->dmarc_result->status;
		j->facts.dkim = (int)s->dmarc_result->dkim;
	}
	if (!smtp_filter_pool(s, &j->work, spam_work, spam_done)) {
		free(j);
		smtp_filter_next(s);
	}
}
