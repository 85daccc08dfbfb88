/* queue_runner: local delivery from the queue.
 *
 * SECURITY: runs as the unprivileged [server] user; reads queue files
 * written by the workers (parsed as untrusted: bounded envelope, checked
 * names) and writes only under data_dir/mail and data_dir/queue.
 *
 * Each message is delivered by one thread-pool job: read the file, expand
 * every recipient not yet done (aliases, catch-all), write one copy per
 * distinct local account with maildir_deliver() (idempotent by name),
 * fsync the new/ directories, then record progress or remove the file.
 *
 * Periodic jobs: the hourly prune, list digests, and DMARC aggregate
 * reports after each report period when [authn] dmarc_reports is on. */
#include "queue_runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "archive_queue.h"
#include "authn/dmarc_report.h"
#include "delivery.h"
#include "dns_config.h"
#include "list_digest.h"
#include "log.h"
#include "outbound.h"
#include "quarantine.h"
#include "queue.h"
#include "smtp_client.h"
#include "store.h"
#include "store_dmarc.h"
#include "store_list.h"
#include "store_list_digest.h"
#include "util.h"
#include "xalloc.h"

#define RUNNER_BUCKETS 4096
#define RUNNER_RESCAN_MS (60 * 1000)
#define RUNNER_TICK_MS 1000
#define RUNNER_PRUNE_EVERY 3600	/* seconds between rejected-log prunes */
#define RUNNER_DIGEST_SENT_SLACK 86400	/* seconds sent posts are kept past
					   bounce_after */
#define RUNNER_DIGEST_EVERY 300	/* seconds between list digest checks */
#define RUNNER_TARGETS_MAX 10000	/* distinct mailboxes per message */
#define RUNNER_LOCAL_MAX 256

enum entry_state { ENTRY_READY, ENTRY_RUNNING, ENTRY_DEFERRED };

struct entry {
	char		 id[QUEUE_ID_LEN + 1];
	enum entry_state state;
	bool		 recovered;	/* may have been delivered before */
	time_t		 next_try;
	struct entry	*hnext;		/* hash chain */
	struct entry	*next, *prev;	/* ready or deferred list */
};

static const struct config *cfg;
static uv_loop_t *loop;
static struct entry *table[RUNNER_BUCKETS];
static struct entry *ready_head, *ready_tail;
static struct entry *deferred_head;
static unsigned running;
static bool stopping;
static uv_fs_event_t watch_msg, watch_top;
static uv_timer_t tick_timer, rescan_timer;
static uv_signal_t sig_term, sig_int, sig_hup;
static char msg_dir[4096], top_dir[4096];

static struct delivery_ctx dctx;

static unsigned
hash_id(const char *id)
{
	unsigned h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % RUNNER_BUCKETS;
}

static struct entry *
entry_find(const char *id)
{
	struct entry *e;

	for (e = table[hash_id(id)]; e != NULL; e = e->hnext)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void
list_unlink(struct entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else if (ready_head == e)
		ready_head = e->next;
	else if (deferred_head == e)
		deferred_head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else if (ready_tail == e)
		ready_tail = e->prev;
	e->next = e->prev = NULL;
}

static void
make_ready(struct entry *e)
{
	e->state = ENTRY_READY;
	e->next = NULL;
	e->prev = ready_tail;
	if (ready_tail != NULL)
		ready_tail->next = e;
	else
		ready_head = e;
	ready_tail = e;
}

static void
entry_remove(struct entry *e)
{
	struct entry **pp;

	for (pp = &table[hash_id(e->id)]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	free(e);
}

static void dispatch(void);

static void
entry_add(const char *id, bool recovered)
{
	struct entry *e;
	unsigned h;

	if (!queue_id_valid(id) || entry_find(id) != NULL)
		return;
	e = xcalloc(1, sizeof(*e));
	memcpy(e->id, id, sizeof(e->id));
	e->recovered = recovered;
	h = hash_id(id);
	e->hnext = table[h];
	table[h] = e;
	make_ready(e);
}

static time_t
backoff(unsigned attempts)
{
	uint64_t d = cfg->retry_min;

	while (attempts-- > 0 && d < cfg->retry_max)
		d *= 2;
	return (time_t)(d > cfg->retry_max ? cfg->retry_max : d);
}

static void
on_delivered(void *arg, const struct delivery_outcome *o)
{
	struct entry *e = arg;

	running--;
	if (o->finished) {
		entry_remove(e);
	} else if (o->held) {
		/* Until "moatctl queue release" (which also flushes). */
		e->next_try = (time_t)INT64_MAX / 2;
		e->state = ENTRY_DEFERRED;
		e->prev = NULL;
		e->next = deferred_head;
		if (deferred_head != NULL)
			deferred_head->prev = e;
		deferred_head = e;
		log_info("event=held id=%s", e->id);
	} else {
		e->next_try = time(NULL) + backoff(o->attempts ?
		    o->attempts - 1 : 0);
		e->recovered = true;
		log_warnx("event=deferred id=%s attempt=%u retry_in=%llds "
		    "reason=\"%s\"", e->id, o->attempts,
		    (long long)(e->next_try - time(NULL)), o->error);
		if (queue_state_defer(cfg->data_dir, e->id, o->attempts,
		    e->next_try, o->error) < 0)
			log_warn("event=state-write-failed id=%s", e->id);
		e->state = ENTRY_DEFERRED;
		e->prev = NULL;
		e->next = deferred_head;
		if (deferred_head != NULL)
			deferred_head->prev = e;
		deferred_head = e;
	}
	if (stopping && running == 0 && outbound_busy(dctx.outbound) == 0)
		uv_stop(loop);
	dispatch();
}

static void
dispatch(void)
{
	while (!stopping && ready_head != NULL &&
	    running < cfg->delivery_threads) {
		struct entry *e = ready_head;

		list_unlink(e);
		e->state = ENTRY_RUNNING;
		running++;
		delivery_start(&dctx, e->id, e->recovered, on_delivered, e);
	}
}

/* ---- discovery -------------------------------------------------------- */

static void
scan_queue(bool recovered)
{
	struct dirent *de;
	DIR *d = opendir(msg_dir);

	if (d == NULL) {
		log_warn("event=queue-scan-failed dir=%s", msg_dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			entry_add(de->d_name, recovered);
	closedir(d);
	dispatch();
}

static void
on_msg_event(uv_fs_event_t *h, const char *filename, int events,
    int status)
{
	(void)h;
	(void)events;
	if (status < 0 || filename == NULL) {
		scan_queue(true);
		return;
	}
	if (entry_find(filename) == NULL) {
		char path[4096 + QUEUE_ID_LEN + 2];

		snprintf(path, sizeof(path), "%s/%s", msg_dir, filename);
		if (access(path, F_OK) == 0)
			entry_add(filename, false);
	}
	dispatch();
}

static void
flush_all(void)
{
	struct entry *e;

	while ((e = deferred_head) != NULL) {
		list_unlink(e);
		make_ready(e);
	}
	dispatch();
}

static void
on_top_event(uv_fs_event_t *h, const char *filename, int events,
    int status)
{
	char path[4096 + 8];

	(void)h;
	(void)events;
	if (status < 0 || filename == NULL || strcmp(filename, "flush") != 0)
		return;
	snprintf(path, sizeof(path), "%s/flush", top_dir);
	if (unlink(path) == 0) {
		log_info("event=flush");
		flush_all();
	}
}

static void
on_tick(uv_timer_t *t)
{
	struct entry *e, *next;
	time_t now = time(NULL);

	(void)t;
	for (e = deferred_head; e != NULL; e = next) {
		next = e->next;
		if (e->next_try <= now) {
			list_unlink(e);
			make_ready(e);
		}
	}
	dispatch();
}

/* Housekeeping from a pool thread, at most once an hour: rejected-log
 * rows and traces past [log] rejected_retention, archive copies that
 * failed to be written, archive days past [archive] retention, held
 * messages past [quarantine] retention, expired list tokens and the
 * pending list members they leave, DMARC report rows past [authn]
 * dmarc_report_retention (reported or not). */
static uv_work_t prune_work;
static bool prune_running;
static time_t prune_last;

static void
prune_run(uv_work_t *w)
{
	struct store *st;
	const char *error = NULL;

	(void)w;
	if ((st = store_thread(cfg->data_dir, &error)) == NULL ||
	    store_reject_prune(st, time(NULL) -
	    (time_t)cfg->rejected_retention) < 0)
		log_warnx("event=reject-prune-failed");
	/* Mailing lists: expired tokens, pending members never confirmed. */
	if (st != NULL) {
		unsigned tokens, pending;

		if (store_list_prune(st, time(NULL), &tokens, &pending) < 0)
			log_warnx("event=list-prune-failed");
		else if (tokens > 0 || pending > 0)
			log_info("event=list-prune tokens=%u pending=%u",
			    tokens, pending);
		/* Posts sent in a digest are remembered while their
		 * expansion could still be retried (bounce_after), and a
		 * day more. */
		if (store_list_digest_prune(st, time(NULL) -
		    (time_t)cfg->bounce_after - RUNNER_DIGEST_SENT_SLACK,
		    &tokens) < 0)
			log_warnx("event=list-digest-prune-failed");
	}
	if (st != NULL) {
		uint64_t rows = 0;

		if (store_dmarc_prune(st, time(NULL) -
		    (time_t)cfg->dmarc_report_retention, &rows) < 0)
			log_warnx("event=dmarc-prune-failed");
		else if (rows > 0)
			log_info("event=dmarc-prune rows=%" PRIu64, rows);
	}
	archive_maintain(cfg);
	/* Held messages past [quarantine] retention (each one logged). */
	if (quarantine_prune(cfg->data_dir, time(NULL) -
	    (time_t)cfg->quarantine_retention) < 0)
		log_warn("event=quarantine-prune-failed");
}

static void
prune_done(uv_work_t *w, int status)
{
	(void)w;
	(void)status;
	prune_running = false;
}

static void
prune_maybe(void)
{
	time_t now = time(NULL);

	if (prune_running || now - prune_last < RUNNER_PRUNE_EVERY)
		return;
	prune_last = now;
	if (uv_queue_work(loop, &prune_work, prune_run, prune_done) == 0)
		prune_running = true;
}

/* List digests due (digest_interval, or digest_size when a keep's own
 * send failed), from a pool thread every few minutes. */
static uv_work_t digest_work;
static bool digest_running;
static time_t digest_last;

static void
digest_run(uv_work_t *w)
{
	struct store *st;
	const char *error = NULL;

	(void)w;
	if ((st = store_thread(cfg->data_dir, &error)) == NULL)
		log_warnx("event=list-digest-check-failed error=\"%s\"",
		    error ? error : "store");
	else
		list_digest_run(st, cfg, time(NULL));
}

static void
digest_done(uv_work_t *w, int status)
{
	(void)w;
	(void)status;
	digest_running = false;
}

static void
digest_maybe(void)
{
	time_t now = time(NULL);

	if (digest_running || now - digest_last < RUNNER_DIGEST_EVERY)
		return;
	digest_last = now;
	if (uv_queue_work(loop, &digest_work, digest_run, digest_done) == 0)
		digest_running = true;
}

/* DMARC aggregate reports of the periods that ended, on a thread of
 * their own: one DNS lookup or more per policy domain, each up to the
 * [dns] timeout, must not hold a pool thread deliveries need. Checked
 * with the rescans; a period is tried once (rows a failed lookup kept
 * go into the next period's report). */
static uv_thread_t report_thread;
static bool report_started;
static atomic_bool report_finished;
static time_t report_end;

static void
report_run(void *arg)
{
	struct dmarc_report_stats stats;
	struct store *st = NULL;
	const char *error = NULL;

	(void)arg;
	if (store_open(cfg->data_dir, &st, &error) < 0)
		log_warnx("event=dmarc-report-failed error=\"%s\"", error);
	else if (dmarc_report_run(cfg, st, report_end, NULL,
	    DMARC_REPORT_SEND, NULL, &stats) < 0)
		log_warnx("event=dmarc-report-failed");
	else if (stats.domains > 0)
		log_info("event=dmarc-reports domains=%u queued=%u "
		    "deferred=%u skipped=%u", stats.domains, stats.sent,
		    stats.deferred, stats.skipped);
	store_close(&st);
	atomic_store(&report_finished, true);
}

static void
report_maybe(void)
{
	time_t end;

	if (!cfg->dmarc_reports || stopping)
		return;
	if (report_started) {
		if (!atomic_load(&report_finished))
			return;
		(void)uv_thread_join(&report_thread);
		report_started = false;
	}
	end = dmarc_report_period_end(cfg, time(NULL));
	if (end <= report_end)
		return;
	report_end = end;
	atomic_store(&report_finished, false);
	if (uv_thread_create(&report_thread, report_run, NULL) == 0)
		report_started = true;
	else
		log_warnx("event=dmarc-report-failed error=\"no thread\"");
}

static void
on_rescan(uv_timer_t *t)
{
	(void)t;
	scan_queue(true);
	prune_maybe();
	digest_maybe();
	report_maybe();
}

static void
on_term(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	if (stopping)
		return;
	stopping = true;
	log_info("event=stopping running=%u", running);
	if (running == 0)
		uv_stop(loop);
}

static void
on_hup(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
}

static void
load_deferred_times(void)
{
	struct entry *e;
	struct queue_state st;

	/* Messages recovered at start keep their backoff. */
	for (e = ready_head; e != NULL; e = e->next) {
		if (queue_state_load(cfg->data_dir, e->id, 0, &st) == 0) {
			e->next_try = st.next_try;
			queue_state_free(&st);
		}
	}
}

/* DNS and the TLS client context for remote delivery. Without DNS only
 * [transport] routes to IP addresses work; that is logged, not fatal. */
static void
runner_outbound_init(void)
{
	char err[256];
	struct dns *dns;
	SSL_CTX *ctx;

	dns = dns_new_from_config(loop, cfg, err, sizeof(err));
	if (dns == NULL)
		log_warnx("event=dns-unavailable error=\"%s\"", err);
	ctx = smtp_client_tls_ctx_new(err, sizeof(err));
	if (ctx == NULL)
		fatalx("tls client: %s", err);
	dctx.cfg = cfg;
	dctx.loop = loop;
	dctx.outbound = outbound_new(loop, cfg, dns, ctx);
}

int
queue_runner_main(const struct config *config)
{
	struct entry *e, *next;
	time_t now;
	int r;

	cfg = config;
	log_set_role("queue");
	loop = uv_default_loop();
	if (queue_dirs_path(cfg->data_dir, "msg", msg_dir,
	    sizeof(msg_dir)) < 0 || snprintf(top_dir, sizeof(top_dir),
	    "%s/queue", cfg->data_dir) >= (int)sizeof(top_dir))
		fatalx("data_dir path too long");

	runner_outbound_init();
	uv_fs_event_init(loop, &watch_msg);
	uv_fs_event_init(loop, &watch_top);
	if ((r = uv_fs_event_start(&watch_msg, on_msg_event, msg_dir, 0)) ||
	    (r = uv_fs_event_start(&watch_top, on_top_event, top_dir, 0)))
		log_warnx("event=watch-failed error=%s (falling back to "
		    "rescans)", uv_strerror(r));
	scan_queue(true);
	/* Respect the backoff of messages deferred before a restart. */
	load_deferred_times();
	now = time(NULL);
	for (e = ready_head; e != NULL; e = next) {
		next = e->next;
		if (e->next_try > now) {
			list_unlink(e);
			e->state = ENTRY_DEFERRED;
			e->next = deferred_head;
			if (deferred_head != NULL)
				deferred_head->prev = e;
			deferred_head = e;
		}
	}
	dispatch();

	uv_timer_init(loop, &tick_timer);
	uv_timer_start(&tick_timer, on_tick, RUNNER_TICK_MS, RUNNER_TICK_MS);
	uv_timer_init(loop, &rescan_timer);
	uv_timer_start(&rescan_timer, on_rescan, RUNNER_RESCAN_MS,
	    RUNNER_RESCAN_MS);
	uv_signal_init(loop, &sig_term);
	uv_signal_init(loop, &sig_int);
	uv_signal_init(loop, &sig_hup);
	uv_signal_start(&sig_term, on_term, SIGTERM);
	uv_signal_start(&sig_int, on_term, SIGINT);
	uv_signal_start(&sig_hup, on_hup, SIGHUP);
	prune_maybe();
	report_maybe();
	log_info("event=runner-ready");
	uv_run(loop, UV_RUN_DEFAULT);
	log_info("event=runner-exit");
	return 0;
}
