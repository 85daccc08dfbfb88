/* queue_runner: local delivery from the queue.
 *
 * SECURITY: runs as the unprivileged [server] user; reads queue files
 * written by the workers (parsed as untrusted: bounded envelope, checked
 * names) and writes only under data_dir/mail and data_dir/queue.
 *
 * Each message is delivered by one thread-pool job: read the file, expand
 * every recipient not yet done (aliases, catch-all), write one copy per
 * distinct local account with maildir_deliver() (idempotent by name),
 * fsync the new/ directories, then record progress or remove the file. */
#include "queue_runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "log.h"
#include "maildir.h"
#include "queue.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#define RUNNER_BUCKETS 4096
#define RUNNER_RESCAN_MS (60 * 1000)
#define RUNNER_TICK_MS 1000
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

struct job {
	uv_work_t	 work;
	struct entry	*e;
	/* results */
	bool		 finished;	/* queue file removed */
	bool		 deferred;
	unsigned	 attempts;
	char		 error[256];
};

struct target {
	char	 local[RUNNER_LOCAL_MAX];
	char	 domain[256];
	bool	 account;
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

static __thread struct store *thread_store;

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

/* ---- delivery (thread pool) ------------------------------------------ */

struct resolve_ctx {
	struct target	*targets;
	size_t		 ntargets;
	bool		 overflow;
};

static void
collect_target(void *vctx, const char *local, const char *domain,
    bool is_account)
{
	struct resolve_ctx *rc = vctx;
	size_t i;

	for (i = 0; i < rc->ntargets; i++)
		if (strcmp(rc->targets[i].local, local) == 0 &&
		    strcmp(rc->targets[i].domain, domain) == 0)
			return;
	if (rc->ntargets == RUNNER_TARGETS_MAX) {
		rc->overflow = true;
		return;
	}
	rc->targets = xreallocarray(rc->targets, rc->ntargets + 1,
	    sizeof(*rc->targets));
	moat_strlcpy(rc->targets[rc->ntargets].local, local,
	    sizeof(rc->targets[0].local));
	moat_strlcpy(rc->targets[rc->ntargets].domain, domain,
	    sizeof(rc->targets[0].domain));
	rc->targets[rc->ntargets].account = is_account;
	rc->ntargets++;
}

static int
split_addr(const char *addr, char *local, size_t llen, char *domain,
    size_t dlen)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || (size_t)(at - addr) >= llen ||
	    strlen(at + 1) >= dlen)
		return -1;
	memcpy(local, addr, (size_t)(at - addr));
	local[at - addr] = '\0';
	moat_strlcpy(domain, at + 1, dlen);
	return 0;
}

/* Deliver one recipient's targets. Returns 1 done, 0 permanent failure,
 * -1 temporary failure (error filled in). */
static int
deliver_rcpt(struct job *j, const struct queue_envelope *env,
    const char *rcpt, const uint8_t *body, size_t bodylen)
{
	struct resolve_ctx rc = { NULL, 0, false };
	char local[RUNNER_LOCAL_MAX], domain[256], path[4096], name[512];
	char hdr[1024];
	struct iovec iov[2];
	size_t i;
	int n, result = 1;

	if (split_addr(rcpt, local, sizeof(local), domain,
	    sizeof(domain)) < 0) {
		snprintf(j->error, sizeof(j->error), "bad recipient %.200s",
		    rcpt);
		return 0;
	}
	n = store_resolve(thread_store, local, domain, collect_target, &rc);
	if (n < 0) {
		snprintf(j->error, sizeof(j->error), "database lookup failed");
		free(rc.targets);
		return -1;
	}
	if (n == 0 || rc.ntargets == 0) {
		snprintf(j->error, sizeof(j->error), "no such user %.200s",
		    rcpt);
		free(rc.targets);
		return 0;
	}
	for (i = 0; i < rc.ntargets && result != -1; i++) {
		const struct target *t = &rc.targets[i];
		enum maildir_result mr;

		if (!t->account) {
			/* Outbound delivery arrives with the relay issue;
			 * keep the message queued until then. */
			snprintf(j->error, sizeof(j->error), "remote delivery "
			    "to %.100s@%.100s not available yet", t->local,
			    t->domain);
			result = -1;
			break;
		}
		if (maildir_path(cfg->data_dir, t->domain, t->local, path,
		    sizeof(path)) < 0 ||
		    maildir_name(env->time, env->id, cfg->hostname, name,
		    sizeof(name)) < 0) {
			snprintf(j->error, sizeof(j->error), "bad mailbox "
			    "name %.100s@%.100s", t->local, t->domain);
			result = 0;
			continue;
		}
		n = snprintf(hdr, sizeof(hdr), "Return-Path: <%s>\r\n"
		    "Delivered-To: %s@%s\r\n", env->from, t->local,
		    t->domain);
		if (n < 0 || (size_t)n >= sizeof(hdr))
			n = snprintf(hdr, sizeof(hdr), "Return-Path: <>\r\n");
		iov[0].iov_base = hdr;
		iov[0].iov_len = (size_t)n;
		iov[1].iov_base = (void *)(uintptr_t)body;
		iov[1].iov_len = bodylen;
		mr = maildir_deliver(path, name, iov, 2, j->e->recovered);
		if (mr == MAILDIR_ERROR) {
			snprintf(j->error, sizeof(j->error), "maildir %.200s: "
			    "%s", path, strerror(errno));
			result = errno == EINVAL ? 0 : -1;
			continue;
		}
		/* new/ must be on disk before the queue forgets the message. */
		snprintf(path + strlen(path), sizeof(path) - strlen(path),
		    "/new");
		if (fsync_dir(path) < 0) {
			snprintf(j->error, sizeof(j->error), "fsync %.200s: %s",
			    path, strerror(errno));
			result = -1;
			continue;
		}
		log_info("event=delivered id=%s to=%s@%s%s", env->id, t->local,
		    t->domain, mr == MAILDIR_ALREADY ? " duplicate=skipped" :
		    "");
	}
	free(rc.targets);
	return result;
}

static void
deliver_work(uv_work_t *w)
{
	struct job *j = w->data;
	struct queue_envelope env;
	struct queue_state st;
	struct buf data;
	const char *error = NULL;
	size_t off, i;
	bool pending = false, *newly;

	if (thread_store == NULL &&
	    store_open(cfg->data_dir, &thread_store, &error) < 0) {
		snprintf(j->error, sizeof(j->error), "database: %s", error);
		j->deferred = true;
		return;
	}
	if (queue_read(cfg->data_dir, j->e->id, cfg->message_size +
	    QUEUE_ENVELOPE_MAX + 65536, &data) < 0) {
		if (errno == ENOENT) {
			j->finished = true;	/* deleted by moatctl */
			return;
		}
		snprintf(j->error, sizeof(j->error), "read: %s",
		    strerror(errno));
		j->deferred = true;
		return;
	}
	if (queue_envelope_parse(data.data, data.len, &env, &off,
	    &error) < 0) {
		/* Not retriable: leave it for the admin, log loudly. */
		snprintf(j->error, sizeof(j->error), "corrupt queue file: %s",
		    error);
		j->deferred = true;
		j->attempts = 1000;
		buf_deinit(&data);
		return;
	}
	if (queue_state_load(cfg->data_dir, env.id, env.nrcpts, &st) < 0) {
		snprintf(j->error, sizeof(j->error), "state: %s",
		    strerror(errno));
		j->deferred = true;
		goto out;
	}
	newly = xcalloc(env.nrcpts ? env.nrcpts : 1, sizeof(bool));
	j->attempts = st.attempts;
	for (i = 0; i < env.nrcpts; i++) {
		int r;

		if (st.status[i] != QUEUE_RCPT_PENDING)
			continue;
		r = deliver_rcpt(j, &env, env.rcpts[i], data.data + off,
		    data.len - off);
		if (r == -1) {
			pending = true;
			continue;
		}
		if (r == 0)
			log_warnx("event=delivery-failed id=%s rcpt=%s "
			    "reason=\"%s\"", env.id, env.rcpts[i], j->error);
		st.status[i] = r == 1 ? QUEUE_RCPT_DONE : QUEUE_RCPT_FAILED;
		newly[i] = true;
	}
	if (!pending) {
		if (queue_remove(cfg->data_dir, env.id) < 0 && errno != ENOENT)
			log_warn("event=queue-remove-failed id=%s", env.id);
		j->finished = true;
	} else {
		/* Progress is recorded only when the message stays queued:
		 * the common case (all done) costs no state file. */
		for (i = 0; i < env.nrcpts; i++)
			if (newly[i] && queue_state_mark(cfg->data_dir, env.id,
			    i, st.status[i], NULL) < 0)
				log_warn("event=state-write-failed id=%s",
				    env.id);
		j->deferred = true;
	}
	free(newly);
	queue_state_free(&st);
out:
	queue_envelope_free(&env);
	buf_deinit(&data);
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
deliver_done(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct entry *e = j->e;

	running--;
	if (status < 0 && !j->finished)
		j->deferred = true;
	if (j->finished) {
		entry_remove(e);
	} else {
		unsigned attempts = j->attempts + 1;

		e->next_try = time(NULL) + backoff(j->attempts);
		e->recovered = true;
		log_warnx("event=deferred id=%s attempt=%u retry_in=%llds "
		    "reason=\"%s\"", e->id, attempts,
		    (long long)(e->next_try - time(NULL)), j->error);
		if (queue_state_defer(cfg->data_dir, e->id, attempts,
		    e->next_try, j->error) < 0)
			log_warn("event=state-write-failed id=%s", e->id);
		e->state = ENTRY_DEFERRED;
		e->prev = NULL;
		e->next = deferred_head;
		if (deferred_head != NULL)
			deferred_head->prev = e;
		deferred_head = e;
	}
	free(j);
	if (stopping && running == 0)
		uv_stop(loop);
	dispatch();
}

static void
dispatch(void)
{
	while (!stopping && ready_head != NULL &&
	    running < cfg->delivery_threads) {
		struct entry *e = ready_head;
		struct job *j = xcalloc(1, sizeof(*j));

		list_unlink(e);
		e->state = ENTRY_RUNNING;
		j->e = e;
		j->work.data = j;
		running++;
		if (uv_queue_work(loop, &j->work, deliver_work,
		    deliver_done) != 0)
			fatalx("uv_queue_work failed");
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

static void
on_rescan(uv_timer_t *t)
{
	(void)t;
	scan_queue(true);
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
	log_info("event=runner-ready");
	uv_run(loop, UV_RUN_DEFAULT);
	log_info("event=runner-exit");
	return 0;
}
