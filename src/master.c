/* master: binds, forks, supervises.
 *
 * SECURITY: the only process that keeps root (when started as root). It
 * reads the config file and the TLS key, creates data_dir owned by the
 * service user, binds the listening sockets, and forks the workers and
 * the queue runner, which drop to the service user before touching any
 * input. It parses no network input and runs no event loop: it waits for
 * signals (SIGCHLD restart, SIGHUP reload, SIGTERM drain) with
 * sigtimedwait. */
#include "master.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dynscreen.h"
#include "outbreak.h"
#include "log.h"
#include "sasl.h"
#include "net.h"
#include "proc.h"
#include "queue.h"
#include "queue_runner.h"
#include "tls.h"
#include "util.h"
#include "worker.h"
#include "xalloc.h"

#define MASTER_MAX_CHILDREN 512
#define MASTER_RESTART_DELAY 1	/* seconds, after a crash loop */
#define MASTER_KILL_GRACE 5	/* seconds past drain_timeout */

enum child_role { CHILD_WORKER, CHILD_RUNNER };

struct child {
	pid_t		 pid;
	enum child_role	 role;
	unsigned	 index;
	unsigned	 generation;
	time_t		 started;
	time_t		 restart_at;	/* when a crashed one is due back */
	bool		 retired;	/* old generation, draining */
};

static struct child children[MASTER_MAX_CHILDREN];
static size_t nchildren;
static unsigned generation;
static struct config *live_cfg;
static SSL_CTX *live_ssl;
static struct worker_listener listeners[SERVICE_COUNT * CONFIG_MAX_LISTEN];
static size_t nlisteners;
static struct proc_user run_user;
static pid_t master_pid;
/* Dynamic screening state shared with every child (mapped before the
 * forks); the master only expires old entries and syncs it. */
static struct dynscreen *live_dyn;

#define MASTER_EXPIRE_EVERY	10	/* seconds between dyn_expire runs */

static void
child_exec(enum child_role role, unsigned index)
{
	sigset_t none;
	int code;

	/* Die with the master: a kill -9 of the master must not leave
	 * children holding the listening sockets. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != master_pid)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	proc_drop(&run_user);
	if (role == CHILD_WORKER) {
		code = worker_main(live_cfg, live_ssl, live_dyn, listeners,
		    nlisteners, index);
	} else {
		size_t i;

		/* The runner has no business with client sockets. */
		for (i = 0; i < nlisteners; i++)
			close(listeners[i].fd);
		code = queue_runner_main(live_cfg);
	}
	_exit(code);
}

static void
spawn(struct child *c)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_warn("event=fork-failed");
		c->pid = 0;
		c->restart_at = time(NULL) + MASTER_RESTART_DELAY;
		return;
	}
	if (pid == 0)
		child_exec(c->role, c->index);
	c->pid = pid;
	c->started = time(NULL);
	c->restart_at = 0;
	log_info("event=spawn role=%s index=%u pid=%ld generation=%u",
	    c->role == CHILD_WORKER ? "worker" : "queue", c->index,
	    (long)pid, c->generation);
}

static struct child *
child_new(enum child_role role, unsigned index)
{
	size_t i;

	for (i = 0; i < nchildren; i++)
		if (children[i].pid == 0 && children[i].restart_at == 0)
			break;
	if (i == nchildren) {
		if (nchildren == MASTER_MAX_CHILDREN)
			fatalx("too many child processes");
		nchildren++;
	}
	memset(&children[i], 0, sizeof(children[i]));
	children[i].role = role;
	children[i].index = index;
	children[i].generation = generation;
	return &children[i];
}

static bool
runner_alive(void)
{
	size_t i;

	for (i = 0; i < nchildren; i++)
		if (children[i].role == CHILD_RUNNER && children[i].pid != 0)
			return true;
	return false;
}

static void
spawn_generation(bool with_runner)
{
	unsigned i;

	for (i = 0; i < live_cfg->workers; i++)
		spawn(child_new(CHILD_WORKER, i));
	if (with_runner)
		spawn(child_new(CHILD_RUNNER, 0));
}

static void
signal_children(int sig, bool retire)
{
	size_t i;

	for (i = 0; i < nchildren; i++) {
		if (children[i].pid == 0) {
			children[i].restart_at = 0;
			continue;
		}
		if (retire)
			children[i].retired = true;
		kill(children[i].pid, sig);
	}
}

static void
reap(bool shutting_down, bool *runner_wanted)
{
	int status;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nchildren; i++)
			if (children[i].pid == pid)
				break;
		if (i == nchildren)
			continue;
		struct child *c = &children[i];
		bool crashed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

		if (WIFSIGNALED(status))
			log_warnx("event=child-died role=%s pid=%ld signal=%d",
			    c->role == CHILD_WORKER ? "worker" : "queue",
			    (long)pid, WTERMSIG(status));
		else
			log_info("event=child-exit role=%s pid=%ld status=%d",
			    c->role == CHILD_WORKER ? "worker" : "queue",
			    (long)pid, WEXITSTATUS(status));
		c->pid = 0;
		if (c->role == CHILD_RUNNER && c->retired) {
			*runner_wanted = true;
			c->restart_at = 0;
			continue;
		}
		if (shutting_down || c->retired) {
			c->restart_at = 0;
			continue;
		}
		/* Restart at once, unless it is crashing in a loop. */
		c->restart_at = crashed && time(NULL) - c->started < 2 ?
		    time(NULL) + MASTER_RESTART_DELAY : time(NULL);
	}
}

static bool
any_alive(void)
{
	size_t i;

	for (i = 0; i < nchildren; i++)
		if (children[i].pid != 0)
			return true;
	return false;
}

static void
restart_due(void)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < nchildren; i++) {
		struct child *c = &children[i];

		if (c->pid == 0 && c->restart_at != 0 && c->restart_at <= now &&
		    !c->retired)
			spawn(c);
	}
}

static bool
listeners_equal(const struct config *a, const struct config *b)
{
	return memcmp(a->listen, b->listen, sizeof(a->listen)) == 0 &&
	    memcmp(a->nlisten, b->nlisten, sizeof(a->nlisten)) == 0;
}

static void
reload(const char *path)
{
	struct config *ncfg = xmalloc(sizeof(*ncfg));
	char err[1024];
	SSL_CTX *nssl;

	config_defaults(ncfg);
	if (config_load(ncfg, path, err, sizeof(err)) < 0) {
		log_warnx("event=reload-failed error=\"%s\"", err);
		free(ncfg);
		return;
	}
	if (!listeners_equal(ncfg, live_cfg) ||
	    strcmp(ncfg->data_dir, live_cfg->data_dir) != 0 ||
	    strcmp(ncfg->user, live_cfg->user) != 0) {
		log_warnx("event=reload note=\"listen addresses, data_dir and "
		    "user changes need a restart; keeping the old ones\"");
		memcpy(ncfg->listen, live_cfg->listen, sizeof(ncfg->listen));
		memcpy(ncfg->nlisten, live_cfg->nlisten,
		    sizeof(ncfg->nlisten));
		memcpy(ncfg->data_dir, live_cfg->data_dir,
		    sizeof(ncfg->data_dir));
		memcpy(ncfg->user, live_cfg->user, sizeof(ncfg->user));
	}
	nssl = tls_server_ctx_new(ncfg, &run_user, err, sizeof(err));
	if (nssl == NULL) {
		log_warnx("event=reload-failed error=\"tls: %s\"", err);
		free(ncfg);
		return;
	}
	log_set_level((enum log_level)ncfg->log_level);
	/* Old workers drain their sessions while new ones take over the
	 * listeners; the old config stays valid in their memory. */
	signal_children(SIGTERM, true);
	generation++;
	/* Workers forked from now on see the new config. The previous one
	 * is left allocated: the master is the only user and it is small. */
	live_cfg = ncfg;
	live_ssl = nssl;
	spawn_generation(false);
	log_info("event=reloaded generation=%u", generation);
}

static void
clean_queue_tmp(const char *data_dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	/* Partial writes of a crashed worker: never acknowledged. */
	if (queue_dirs_path(data_dir, "tmp", path, sizeof(path)) < 0 ||
	    (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char file[4096 + 300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		unlink(file);
	}
	closedir(d);
}

static int
prepare_dirs(const struct config *cfg, char *err, size_t errlen)
{
	static const char *const subs[] = { "", "/queue", "/queue/tmp",
		"/queue/msg", "/queue/state", "/mail", "/tls" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", cfg->data_dir, subs[i]);
		if (proc_mkdir_owned(path, &run_user) < 0) {
			snprintf(err, errlen, "%.900s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* <data_dir>/screen.map: bans and counters survive restarts there. */
static void
open_screen_map(const struct config *cfg)
{
	char path[CONFIG_PATH_MAX + 32];
	const char *error = NULL;
	unsigned acct = cfg->screen_table / 16;

	snprintf(path, sizeof(path), "%s/screen.map", cfg->data_dir);
	if (dyn_open(path, cfg->screen_table, acct < 1024 ? 1024 : acct, true,
	    &live_dyn, &error) < 0)
		fatalx("%s: %s", path, error);
	if (run_user.drop && dyn_chown(live_dyn, run_user.uid,
	    run_user.gid) < 0)
		fatal("%s: chown", path);
}

/* <data_dir>/outbreak.map: the outbreak fingerprints every worker
 * counts in; mapped before forking so that workers inherit it. */
static void
open_outbreak_map(const struct config *cfg)
{
	char path[CONFIG_PATH_MAX + 32];
	struct outbreak_table *t = NULL;
	const char *error = NULL;

	snprintf(path, sizeof(path), "%s/outbreak.map", cfg->data_dir);
	if (outbreak_open(path, cfg->ob_table, true, &t, &error) < 0)
		fatalx("%s: %s", path, error);
	if (run_user.drop && outbreak_chown(t, run_user.uid,
	    run_user.gid) < 0)
		fatal("%s: chown", path);
	outbreak_set_shared(t);
}

int
master_run(const char *config_path, struct config *cfg)
{
	char err[1024];
	sigset_t set;
	bool shutting_down = false, runner_wanted = false;
	time_t kill_at = 0, expire_at = 0;
	size_t i;
	unsigned s;

	master_pid = getpid();
	live_cfg = cfg;
	log_init("master", (enum log_level)cfg->log_level);
	/* Enough pool threads that fsyncs overlap (group commit). */
	setenv("UV_THREADPOOL_SIZE", "16", 0);
	if (proc_user_lookup(cfg->user, &run_user, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (prepare_dirs(cfg, err, sizeof(err)) < 0)
		fatalx("data_dir: %s", err);
	clean_queue_tmp(cfg->data_dir);
	open_screen_map(cfg);
	open_outbreak_map(cfg);
	/* One key for every worker: a retried stale password is the same
	 * fingerprint whichever worker sees it. */
	sasl_fingerprint_init();
	live_ssl = tls_server_ctx_new(cfg, &run_user, err, sizeof(err));
	if (live_ssl == NULL)
		fatalx("tls: %s", err);
	for (s = 0; s < SERVICE_COUNT; s++) {
		for (i = 0; i < cfg->nlisten[s]; i++) {
			int fd = net_listen(&cfg->listen[s][i], err,
			    sizeof(err));

			if (fd < 0)
				fatalx("listen %s: %s",
				    config_service_name(s), err);
			listeners[nlisteners].fd = fd;
			listeners[nlisteners].service = s;
			nlisteners++;
			log_info("event=listen service=%s addr=%s port=%u",
			    config_service_name(s), cfg->listen[s][i].host,
			    (unsigned)cfg->listen[s][i].port);
		}
	}

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("event=start hostname=%s data_dir=%s workers=%u user=%s",
	    cfg->hostname, cfg->data_dir, cfg->workers, cfg->user);
	if (cfg->clamd[0] == '\0')
		log_warnx("event=antivirus-off note=\"[antivirus] clamd is not "
		    "set: mail is not scanned for viruses\"");
	spawn_generation(true);

	for (;;) {
		struct timespec ts = { 1, 0 };
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT) {
			if (!shutting_down) {
				log_info("event=shutdown drain_timeout=%us",
				    live_cfg->drain_timeout);
				shutting_down = true;
				kill_at = time(NULL) +
				    live_cfg->drain_timeout + MASTER_KILL_GRACE;
				signal_children(SIGTERM, false);
			}
		} else if (sig == SIGHUP && !shutting_down) {
			log_info("event=reload config=%s", config_path);
			reload(config_path);
		}
		reap(shutting_down, &runner_wanted);
		if (runner_wanted && !runner_alive() && !shutting_down) {
			runner_wanted = false;
			spawn(child_new(CHILD_RUNNER, 0));
		}
		if (shutting_down) {
			if (!any_alive())
				break;
			if (time(NULL) >= kill_at) {
				log_warnx("event=shutdown-timeout "
				    "note=\"killing remaining children\"");
				signal_children(SIGKILL, false);
				kill_at = time(NULL) + MASTER_KILL_GRACE;
			}
			continue;
		}
		restart_due();
		if (time(NULL) >= expire_at) {
			(void)dyn_expire(live_dyn, time(NULL));
			expire_at = time(NULL) + MASTER_EXPIRE_EVERY;
		}
	}
	if (dyn_sync(live_dyn) < 0)
		log_warn("event=screen-map-sync-failed");
	dyn_close(&live_dyn);
	log_info("event=exit");
	return 0;
}
