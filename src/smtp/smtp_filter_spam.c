/* smtp_filter_spam: the spam stage. Mail from outside (not
 * authenticated, not from trusted networks) is scored by the Bayesian
 * filter in the thread pool: X-Spam-Score and X-Spam-Status headers, the
 * Junk folder at [spam] junk_score, a refusal at reject_score, and
 * auto-learning of the very sure cases. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bayes.h"
#include "log.h"
#include "store.h"
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
	int			 status;	/* 0, or -1: not scored */
	bool			 learned;
};

static void
spam_work(uv_work_t *w)
{
	struct spam_job *j = w->data;
	const struct config *cfg = j->s->srv->cfg;
	const struct buf *msg = &j->s->msg;
	const uint8_t *p = msg->data + j->s->received_len;
	size_t len = msg->len - j->s->received_len;
	const char *error = NULL;
	double score;

	j->status = -1;
	pthread_mutex_lock(&spam_lock);
	if (spam_filter == NULL && !spam_broken) {
		if (store_open(cfg->data_dir, &spam_store, &error) < 0) {
			log_warnx("spam event=unavailable error=\"%s\"",
			    error);
			spam_broken = true;
		} else
			spam_filter = bayes_new(spam_store, NULL);
	}
	if (spam_filter != NULL &&
	    bayes_score(spam_filter, p, len, NULL, &j->r) == 0) {
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
}

static void
spam_done(uv_work_t *w, int status)
{
	struct spam_job *j = w->data;
	struct smtp_session *s = j->s;
	const struct config *cfg = s->srv->cfg;
	char line[256];
	unsigned pct;

	if (!smtp_filter_back(s)) {
		free(j);
		return;
	}
	if (status == 0 && j->status == 0) {
		pct = (unsigned)(j->r.score * 100.0 + 0.5);
		s->spam_scored = true;
		s->spam_score = j->r.score;
		log_info("smtp session=%s event=spam score=%.3f verdict=%s "
		    "clues=%zu%s", s->id, j->r.score,
		    bayes_verdict_name(j->r.verdict), j->r.nclues,
		    j->learned ? " learned=yes" : "");
		trace_add(&s->trace, "spam", "score %.3f (%s), %zu clues",
		    j->r.score, bayes_verdict_name(j->r.verdict),
		    j->r.nclues);
		if (cfg->spam_reject > 0 && pct >= cfg->spam_reject) {
			free(j);
			smtp_refuse(s, "spam score", 550, "5.7.1 Message "
			    "refused: it looks like spam (score %u)", pct);
			smtp_filter_refused(s);
			return;
		}
		snprintf(line, sizeof(line), "X-Spam-Status: %s, score=%.3f "
		    "tokens=%zu clues=%zu\r\nX-Spam-Score: %.3f\r\n",
		    pct >= cfg->spam_junk ? "Yes" : j->r.verdict ==
		    BAYES_VERDICT_UNSURE ? "Unsure" : "No", j->r.score,
		    j->r.ntokens, j->r.nclues, j->r.score);
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

	if (!s->srv->cfg->spam || !smtp_filter_inbound(s)) {
		smtp_filter_next(s);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->s = s;
	if (!smtp_filter_pool(s, &j->work, spam_work, spam_done)) {
		free(j);
		smtp_filter_next(s);
	}
}
