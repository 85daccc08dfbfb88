/* test_session: the life cycle core/session.c gives every protocol, over
 * real connections on 127.0.0.1: accept puts a session on its server's
 * list with a fresh id and both timers; the idle timeout shortens when
 * the server is busy; abort and drain reach only the sessions that still
 * have a conn; on_idle comes once, when the last session of a draining
 * server is freed (here after a "busy step" that outlived its conn). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "config.h"
#include "conn.h"
#include "session.h"
#include "xalloc.h"

#define NCLIENTS	3
#define DEADLINE_MS	5000	/* every wait below is bounded by this */

struct test_session {
	struct session	 base;		/* first: session.c frees through it */
	uv_timer_t	 aux;
	bool		 busy;		/* on_close leaves the free to us */
	unsigned	 drained, aborted;
};

static uv_loop_t loop;
static struct config cfg;
static struct session_server srv;
static uv_tcp_t listener;
static uv_tcp_t clients[NCLIENTS];
static uv_connect_t creqs[NCLIENTS];
static struct test_session *accepted[NCLIENTS];
static unsigned naccepted, nclosed, nidle;
static uv_timer_t deadline;
static bool timed_out;

static void
t_on_input(struct conn *c)
{
	(void)c;
}

static void
t_on_tls(struct conn *c, bool ok)
{
	(void)c;
	(void)ok;
}

static void
t_on_close(struct conn *c)
{
	struct test_session *s = c->ctx;

	nclosed++;
	session_conn_gone(&s->base);
	if (!s->busy)
		session_free(&s->base);
}

static void
t_on_timeout(uv_timer_t *t)
{
	(void)t;
}

static void
t_drain(struct session *ss)
{
	struct test_session *s = (struct test_session *)ss;

	s->drained++;
	conn_close(ss->conn);
}

static void
t_abort(struct session *ss)
{
	((struct test_session *)ss)->aborted++;
}

static const char *const t_states[] = { "open", "closed" };

static const struct conn_ops t_conn_ops = {
	.on_input = t_on_input,
	.on_tls = t_on_tls,
	.on_close = t_on_close,
};

static const struct session_class t_class = {
	.name = "test",
	.state_names = t_states,
	.conn_ops = &t_conn_ops,
	.in_max = 1024,
	.on_timeout = t_on_timeout,
	.drain = t_drain,
	.abort = t_abort,
};

static void
on_idle(struct session_server *s)
{
	assert_ptr_equal(s, &srv);
	nidle++;
}

static void
on_listen(uv_stream_t *l, int status)
{
	struct test_session *s;

	assert_int_equal(status, 0);
	assert_true(naccepted < NCLIENTS);
	s = xcalloc(1, sizeof(*s));
	assert_int_equal(session_accept(&s->base, &t_class, &srv, l,
	    SERVICE_SMTP, &s->aux), 0);
	accepted[naccepted++] = s;
}

static void
on_connect(uv_connect_t *req, int status)
{
	(void)req;
	assert_int_equal(status, 0);
}

static void
on_deadline(uv_timer_t *t)
{
	(void)t;
	timed_out = true;
}

/* Run the loop until *n reaches want (or the deadline). */
static void
run_until(const unsigned *n, unsigned want)
{
	timed_out = false;
	uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0);
	while (*n < want && !timed_out)
		uv_run(&loop, UV_RUN_ONCE);
	uv_timer_stop(&deadline);
	assert_false(timed_out);
}

static int
group_setup(void **state)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	size_t i;

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(uv_loop_init(&loop), 0);
	uv_timer_init(&loop, &deadline);
	srv.loop = &loop;
	srv.cfg = &cfg;
	srv.on_idle = on_idle;
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
	uv_tcp_init(&loop, &listener);
	assert_int_equal(uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0),
	    0);
	assert_int_equal(uv_listen((uv_stream_t *)&listener, 8, on_listen),
	    0);
	assert_int_equal(uv_tcp_getsockname(&listener,
	    (struct sockaddr *)&bound, &len), 0);
	addr.sin_port = ((struct sockaddr_in *)&bound)->sin_port;
	for (i = 0; i < NCLIENTS; i++) {
		uv_tcp_init(&loop, &clients[i]);
		assert_int_equal(uv_tcp_connect(&creqs[i], &clients[i],
		    (struct sockaddr *)&addr, on_connect), 0);
	}
	run_until(&naccepted, NCLIENTS);
	return 0;
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static bool
is_hex_id(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return i == SESSION_ID_LEN;
}

static void
test_accept_links_counts_and_names(void **state)
{
	struct session *ss;
	size_t i, j;

	(void)state;
	assert_int_equal(srv.nsessions, NCLIENTS);
	/* Newest first on the list, linked both ways. */
	ss = srv.sessions;
	assert_null(ss->prev);
	for (i = NCLIENTS; i-- > 0; ss = ss->next) {
		assert_ptr_equal(ss, &accepted[i]->base);
		if (ss->next != NULL)
			assert_ptr_equal(ss->next->prev, ss);
	}
	assert_null(ss);
	for (i = 0; i < NCLIENTS; i++) {
		struct session *a = &accepted[i]->base;

		assert_ptr_equal(a->srv, &srv);
		assert_ptr_equal(a->cls, &t_class);
		assert_non_null(a->conn);
		assert_ptr_equal(a->conn->ctx, accepted[i]);
		assert_string_equal(a->conn->peer_ip, "127.0.0.1");
		assert_false(a->conn_gone);
		assert_int_equal(a->handles_open, 2);
		assert_ptr_equal(a->timer.data, a);
		assert_ptr_equal(accepted[i]->aux.data, a);
		assert_true(is_hex_id(a->id));
		for (j = 0; j < i; j++)
			assert_string_not_equal(a->id, accepted[j]->base.id);
	}
}

static void
test_limits_and_idle_timeout(void **state)
{
	struct session *a = &accepted[0]->base;

	(void)state;
	cfg.idle_timeout = 300;
	cfg.busy_timeout = 20;
	cfg.busy_sessions = NCLIENTS + 1;
	assert_int_equal(session_idle_secs(a), 300);
	cfg.busy_sessions = NCLIENTS;
	assert_int_equal(session_idle_secs(a), 20);
	session_timer_arm(a);
	assert_int_equal(uv_timer_get_due_in(&a->timer), 20000);
	session_timer_start(a, 7);
	assert_int_equal(uv_timer_get_due_in(&a->timer), 7000);

	cfg.sessions = NCLIENTS;
	assert_false(session_server_full(&srv));
	cfg.sessions = NCLIENTS - 1;
	assert_true(session_server_full(&srv));
	cfg.sessions = NCLIENTS;
	srv.draining = true;
	assert_true(session_server_full(&srv));
	srv.draining = false;
}

static void
test_drain_abort_skip_gone_and_idle_once(void **state)
{
	struct test_session *held = accepted[0];
	size_t i;

	(void)state;
	/* The client of the first session goes away while its "step"
	 * runs: conn gone, the session stays on the list. */
	held->busy = true;
	uv_close((uv_handle_t *)&clients[0], NULL);
	run_until(&nclosed, 1);
	assert_true(held->base.conn_gone);
	assert_null(held->base.conn);
	assert_int_equal(srv.nsessions, NCLIENTS);

	session_server_abort_all(&srv);
	session_server_drain(&srv);
	assert_true(srv.draining);
	assert_int_equal(held->aborted, 0);
	assert_int_equal(held->drained, 0);
	for (i = 1; i < NCLIENTS; i++) {
		assert_int_equal(accepted[i]->aborted, 1);
		assert_int_equal(accepted[i]->drained, 1);
	}
	/* The drained ones close and are freed; the held one keeps the
	 * server from being idle. */
	run_until(&nclosed, NCLIENTS);
	assert_int_equal(srv.nsessions, 1);
	assert_ptr_equal(srv.sessions, &held->base);
	assert_null(held->base.next);
	assert_int_equal(nidle, 0);

	/* The step ends: the last session goes, on_idle once. */
	session_free(&held->base);
	assert_int_equal(srv.nsessions, 0);
	assert_null(srv.sessions);
	assert_int_equal(nidle, 1);
	/* Draining again with nothing left: on_idle at once. */
	session_server_drain(&srv);
	assert_int_equal(nidle, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_links_counts_and_names),
		cmocka_unit_test(test_limits_and_idle_timeout),
		cmocka_unit_test(test_drain_abort_skip_gone_and_idle_once),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
