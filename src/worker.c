/* worker: the network-facing child process.
 *
 * SECURITY: runs as the unprivileged [server] user (the master dropped
 * root before calling worker_main). It talks to SMTP, IMAP, POP3 and
 * HTTPS (the one-click unsubscribe page) clients on the network and trusts none of their input; it reads and writes
 * only the SQLite database, the queue directory and the accounts'
 * Maildirs (with their mailbox indexes) under data_dir. The TLS private
 * key is in its memory (inherited SSL_CTX), as in every single-process
 * TLS server; no file outside data_dir is opened after start.
 *
 * One libuv loop; the listening sockets are shared with the other workers
 * (the kernel hands each connection to one of them). SIGTERM drains:
 * stop accepting, let sessions finish, exit when the last one ends or at
 * drain_timeout. */
#include "worker.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "imap_session.h"
#include "dns_config.h"
#include "log.h"
#include "screen.h"
#include "pop3_session.h"
#include "queue_commit.h"
#include "smtp_session.h"
#include "store.h"
#include "web_session.h"
#include "xalloc.h"

#define WORKER_FLUSH_GRACE_MS 2000

struct listener {
	uv_tcp_t		 tcp;
	enum listen_service	 service;
	struct smtp_server	*srv;
	struct pop3_server	*pop3;
	struct imap_server	*imap;
	struct web_server	*web;
};

static struct listener *listeners;
static size_t nlisteners;
static uv_signal_t sig_term, sig_int, sig_hup;
static uv_timer_t drain_timer;
static bool stopping;

static void
on_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;

	if (status < 0) {
		log_warnx("event=accept-failed error=%s", uv_strerror(status));
		return;
	}
	switch (l->service) {
	case SERVICE_SMTP:
	case SERVICE_SUBMISSION:
	case SERVICE_SUBMISSIONS:
		smtp_session_accept(l->srv, server, l->service);
		break;
	case SERVICE_POP3:
	case SERVICE_POP3S:
		pop3_session_accept(l->pop3, server, l->service);
		break;
	case SERVICE_IMAP:
	case SERVICE_IMAPS:
		imap_session_accept(l->imap, server, l->service);
		break;
	case SERVICE_WEB:
		web_session_accept(l->web, server);
		break;
	default:
		break;
	}
}

/* The four servers of this worker, in the order they drain. */
#define WORKER_SERVERS	4
static struct session_server *servers[WORKER_SERVERS];

/* on_idle of every server: draining ends when none has a session
 * left. */
static void
worker_idle(struct session_server *srv)
{
	size_t i;

	for (i = 0; i < WORKER_SERVERS; i++)
		if (servers[i]->nsessions > 0)
			return;
	uv_stop(srv->loop);
}

static void
on_drain_hard(uv_timer_t *t)
{
	struct smtp_server *srv = t->data;

	uv_stop(srv->base.loop);
}

static void
on_drain_timeout(uv_timer_t *t)
{
	struct smtp_server *srv = t->data;
	size_t i;

	log_info("event=drain-timeout sessions=%u", srv->base.nsessions);
	/* 421 to whoever is left; give the replies a moment to leave. */
	for (i = 0; i < WORKER_SERVERS; i++)
		session_server_abort_all(servers[i]);
	uv_timer_start(&drain_timer, on_drain_hard, WORKER_FLUSH_GRACE_MS, 0);
}

static void
on_term(uv_signal_t *h, int signum)
{
	struct smtp_server *srv = h->data;
	size_t i;

	(void)signum;
	if (stopping)
		return;
	stopping = true;
	log_info("event=draining sessions=%u", srv->base.nsessions);
	for (i = 0; i < nlisteners; i++)
		uv_close((uv_handle_t *)&listeners[i].tcp, NULL);
	uv_timer_init(srv->base.loop, &drain_timer);
	drain_timer.data = srv;
	uv_timer_start(&drain_timer, on_drain_timeout,
	    (uint64_t)srv->base.cfg->drain_timeout * 1000, 0);
	uv_unref((uv_handle_t *)&drain_timer);
	for (i = 0; i < WORKER_SERVERS; i++)
		servers[i]->on_idle = worker_idle;
	for (i = 0; i < WORKER_SERVERS; i++)
		session_server_drain(servers[i]);
}

static void
on_hup(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	/* The master reloads by replacing workers; nothing to do here. */
}

/* The part every server shares. */
static void
server_init(struct session_server *b, uv_loop_t *loop,
    const struct config *cfg, SSL_CTX *ssl_ctx, struct screen *screen)
{
	b->loop = loop;
	b->cfg = cfg;
	b->ssl_ctx = ssl_ctx;
	b->screen = screen;
}

int
worker_main(const struct config *cfg, SSL_CTX *ssl_ctx,
    struct dynscreen *dyn, const struct worker_listener *ls, size_t nls,
    unsigned index)
{
	/* Static, not on this stack: at the drain's hard stop, work still
	 * in the thread pool (a filter, a store call) reads them through
	 * its session until the process exits, after this returns. */
	static struct smtp_server srv;
	static struct pop3_server psrv;
	static struct imap_server isrv;
	static struct web_server wsrv;
	const char *error = NULL;
	uv_loop_t *loop = uv_default_loop();
	char role[32];
	size_t i;
	int r;

	snprintf(role, sizeof(role), "worker%u", index);
	log_set_role(role);
	memset(&srv, 0, sizeof(srv));
	server_init(&srv.base, loop, cfg, ssl_ctx, screen_new(loop, cfg, dyn));
	if (store_open(cfg->data_dir, &srv.store, &error) < 0)
		fatalx("database: %s", error);
	srv.commit = queue_commit_new(loop, cfg->data_dir);
	smtp_filter_rules_start(loop, cfg);
	{
		char err[256];

		/* SPF and DKIM of inbound mail; without DNS they are off. */
		srv.dns = dns_new_from_config(loop, cfg, err, sizeof(err));
		if (srv.dns == NULL)
			log_warnx("event=dns-unavailable error=\"%s\"", err);
	}
	memset(&psrv, 0, sizeof(psrv));
	server_init(&psrv.base, loop, cfg, ssl_ctx, srv.base.screen);
	psrv.store = srv.store;
	memset(&isrv, 0, sizeof(isrv));
	server_init(&isrv.base, loop, cfg, ssl_ctx, srv.base.screen);
	isrv.store = srv.store;
	memset(&wsrv, 0, sizeof(wsrv));
	server_init(&wsrv.base, loop, cfg, ssl_ctx, srv.base.screen);
	servers[0] = &psrv.base;
	servers[1] = &isrv.base;
	servers[2] = &wsrv.base;
	servers[3] = &srv.base;

	listeners = xcalloc(nls ? nls : 1, sizeof(*listeners));
	nlisteners = nls;
	for (i = 0; i < nls; i++) {
		struct listener *l = &listeners[i];

		l->service = ls[i].service;
		l->srv = &srv;
		l->pop3 = &psrv;
		l->imap = &isrv;
		l->web = &wsrv;
		uv_tcp_init(loop, &l->tcp);
		l->tcp.data = l;
		if ((r = uv_tcp_open(&l->tcp, ls[i].fd)) != 0 ||
		    (r = uv_listen((uv_stream_t *)&l->tcp, 1024,
		    on_connection)) != 0)
			fatalx("listen: %s", uv_strerror(r));
	}
	uv_signal_init(loop, &sig_term);
	uv_signal_init(loop, &sig_int);
	uv_signal_init(loop, &sig_hup);
	sig_term.data = sig_int.data = sig_hup.data = &srv;
	uv_signal_start(&sig_term, on_term, SIGTERM);
	uv_signal_start(&sig_int, on_term, SIGINT);
	uv_signal_start(&sig_hup, on_hup, SIGHUP);
	log_info("event=worker-ready listeners=%zu", nls);
	uv_run(loop, UV_RUN_DEFAULT);
	/* Let in-flight queue commits finish: their clients are owed an
	 * answer only if still connected, but the files must be complete. */
	while (queue_commit_pending(srv.commit) > 0)
		uv_run(loop, UV_RUN_ONCE);
	screen_free(&srv.base.screen);
	store_close(&srv.store);
	log_info("event=worker-exit");
	return 0;
}
