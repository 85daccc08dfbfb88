/* imap_junk: learning spam and ham from the users' moves into and out of
 * the Junk folder (imap_junk.h). The messages are copied while the
 * handler has them loaded, so the pool thread reads no Maildir file the
 * user may rename or expunge meanwhile; the copies are bounded per
 * message, per command and per process. */
#include "imap_junk.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "bayes.h"
#include "config.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include "imap_session_private.h"

/* A classifier of its own in each worker process, apart from the one
 * SMTP scores with: a user moving a thousand messages holds this lock,
 * never the one delivery waits for. Pool threads take turns. */
static pthread_mutex_t junk_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bayes *junk_filter;
static struct store *junk_store;
static bool junk_broken;

/* Octets held by queued jobs (loop thread only). */
static size_t junk_pending;

struct junk_msg {
	uint8_t		*data;
	size_t		 len;
};

struct imap_junk {
	uv_work_t		 work;
	uv_loop_t		*loop;
	const struct config	*cfg;
	enum bayes_class	 cls;
	char			 user[BAYES_SCOPE_MAX + 1];
	char			 session[17];
	struct junk_msg		*msgs;
	size_t			 n;
	size_t			 bytes;
	unsigned		 big, over;	/* skipped: too large, past
						   the count or pending cap */
	/* results (pool thread) */
	unsigned		 learned, known, failed;
};

static bool
is_junk(const char *folder)
{
	return strcmp(folder, "Junk") == 0;	/* the \Junk special use */
}

/* folder is name, or a folder under it (either delimiter: IMAP's "/" or
 * the "." of Maildir++ on disk). */
static bool
under(const char *folder, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(folder, name, n) == 0 && (folder[n] == '\0' ||
	    folder[n] == '.' || folder[n] == '/');
}

/* Moving spam out of Junk into the trash, or into a folder kept under
 * Junk, says nothing about it being ham. */
static bool
not_ham(const char *folder)
{
	static const char *const names[] = {
		"Junk", "Trash", "Deleted", "Deleted Items",
		"Deleted Messages",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (under(folder, names[i]))
			return true;
	return false;
}

/* A learning of class cls for s's user, or NULL when learning from
 * users is off. */
static struct imap_junk *
junk_new(struct imap_session *s, enum bayes_class cls)
{
	const struct config *cfg = s->srv->base.cfg;
	struct imap_junk *j;

	if (!cfg->spam || !cfg->spam_learn_moves || s->user[0] == '\0' ||
	    strlen(s->user) > BAYES_SCOPE_MAX)
		return NULL;
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->loop = s->srv->base.loop;
	j->cfg = cfg;
	j->cls = cls;
	moat_strlcpy(j->user, s->user, sizeof(j->user));
	moat_strlcpy(j->session, s->base.id, sizeof(j->session));
	return j;
}

struct imap_junk *
imap_junk_begin(struct imap_session *s, const char *to)
{
	if (s->mb == NULL)
		return NULL;
	if (!is_junk(s->folder) && is_junk(to))
		return junk_new(s, BAYES_SPAM);
	if (is_junk(s->folder) && !not_ham(to))
		return junk_new(s, BAYES_HAM);
	return NULL;
}

struct imap_junk *
imap_junk_begin_append(struct imap_session *s, const char *to)
{
	return is_junk(to) ? junk_new(s, BAYES_SPAM) : NULL;
}

void
imap_junk_add(struct imap_junk *j, const uint8_t *msg, size_t len)
{
	if (j == NULL)
		return;
	if (len > IMAP_JUNK_MSG_MAX) {
		j->big++;
		return;
	}
	if (j->n >= IMAP_JUNK_MSGS_MAX ||
	    len > IMAP_JUNK_PENDING_MAX - junk_pending) {
		j->over++;
		return;
	}
	if (j->msgs == NULL)
		j->msgs = xcalloc(IMAP_JUNK_MSGS_MAX, sizeof(*j->msgs));
	j->msgs[j->n].data = xmalloc(len > 0 ? len : 1);
	if (len > 0)
		memcpy(j->msgs[j->n].data, msg, len);
	j->msgs[j->n].len = len;
	j->n++;
	j->bytes += len;
	junk_pending += len;	/* UNSAFE: len <= PENDING_MAX - pending */
}

void
imap_junk_free(struct imap_junk **jp)
{
	struct imap_junk *j = *jp;
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->n; i++)
		free(j->msgs[i].data);
	free(j->msgs);
	junk_pending -= j->bytes;
	free(j);
	*jp = NULL;
}

/* The process's classifier, opened on first use; NULL when the
 * database cannot be opened (said once). Called with junk_lock held. */
static struct bayes *
junk_bayes(const struct config *cfg)
{
	struct bayes_params p;
	const char *error = NULL;

	if (junk_filter != NULL || junk_broken)
		return junk_filter;
	if (store_open(cfg->data_dir, &junk_store, &error) < 0) {
		log_warnx("imap event=junk-unavailable error=\"%s\"", error);
		junk_broken = true;
		return NULL;
	}
	bayes_params_default(&p);
	p.user_min = cfg->spam_user_min;
	junk_filter = bayes_new(junk_store, &p);
	return junk_filter;
}

static void
junk_work(uv_work_t *w)
{
	struct imap_junk *j = w->data;
	struct bayes *b;
	size_t i;
	int r;

	/* The lock is taken per message so that two users' batches go
	 * along side by side. */
	for (i = 0; i < j->n; i++) {
		pthread_mutex_lock(&junk_lock);
		b = junk_bayes(j->cfg);
		r = b == NULL ? -1 : bayes_learn(b, j->msgs[i].data,
		    j->msgs[i].len, j->cls, j->user,
		    j->cfg->spam_moves_global ? BAYES_LEARN_GLOBAL : 0);
		pthread_mutex_unlock(&junk_lock);
		if (r == 0)
			j->learned++;
		else if (r > 0)
			j->known++;
		else
			j->failed++;
	}
}

static void
junk_done(uv_work_t *w, int status)
{
	struct imap_junk *j = w->data;
	char esc[2 * BAYES_SCOPE_MAX + 8];

	log_escape(esc, sizeof(esc), j->user, strlen(j->user));
	if (status != 0)
		log_warnx("imap session=%s event=junk-learn-cancelled "
		    "user=\"%s\" messages=%zu", j->session, esc, j->n);
	else if (j->failed > 0)
		log_warnx("imap session=%s event=junk-learn-failed class=%s "
		    "user=\"%s\" learned=%u known=%u failed=%u", j->session,
		    j->cls == BAYES_SPAM ? "spam" : "ham", esc, j->learned,
		    j->known, j->failed);
	else
		log_info("imap session=%s event=junk-learn class=%s "
		    "user=\"%s\" learned=%u known=%u", j->session,
		    j->cls == BAYES_SPAM ? "spam" : "ham", esc, j->learned,
		    j->known);
	imap_junk_free(&j);
}

void
imap_junk_commit(struct imap_junk **jp)
{
	struct imap_junk *j = *jp;
	char esc[2 * BAYES_SCOPE_MAX + 8];
	int r;

	if (j == NULL)
		return;
	*jp = NULL;
	if (j->big + j->over > 0) {
		log_escape(esc, sizeof(esc), j->user, strlen(j->user));
		log_warnx("imap session=%s event=junk-skipped user=\"%s\" "
		    "too_large=%u over_limit=%u", j->session, esc, j->big,
		    j->over);
	}
	if (j->n == 0) {
		imap_junk_free(&j);
		return;
	}
	r = uv_queue_work(j->loop, &j->work, junk_work, junk_done);
	if (r < 0) {
		log_warnx("imap session=%s event=junk-queue-failed error=%s",
		    j->session, uv_strerror(r));
		imap_junk_free(&j);
	}
}
