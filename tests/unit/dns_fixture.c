/* dns_fixture: a real DNS server for unit tests (dns_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns_fixture.h"
#include "util.h"

#define PYTHON "/usr/bin/python3"

static void
find_script(char *buf, size_t len)
{
	const char *env = getenv("MOAT_DNSSERVER");
	char here[512];
	char *slash;

	if (env != NULL && env[0] != '\0') {
		assert_true(moat_strlcpy(buf, env, len) < len);
		return;
	}
	/* __FILE__ is tests/unit/test_dns.c, maybe relative to the build
	 * directory the test runs in. */
	assert_true(moat_strlcpy(here, __FILE__, sizeof(here)) <
	    sizeof(here));
	slash = strrchr(here, '/');
	if (slash == NULL)
		moat_strlcpy(here, ".", sizeof(here));
	else
		*slash = '\0';
	assert_true(snprintf(buf, len, "%s/../dns/dnsserver.py", here) <
	    (int)len);
}

/* Start dnsserver.py on a free port and wait for "ready PORT". */
static void
server_start(struct dns_fixture *f)
{
	char line[64];
	int pfd[2];
	size_t n = 0;
	ssize_t r;
	uint64_t port;
	const char *error;

	assert_int_equal(pipe(pfd), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		if (dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(127);
		close(pfd[0]);
		close(pfd[1]);
		execl(PYTHON, PYTHON, f->script, "--port", "0", "--zone",
		    f->zone, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (n + 1 < sizeof(line)) {
		r = read(pfd[0], line + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(pfd[0]);
	if (strncmp(line, "ready ", 6) != 0)
		fail_msg("dnsserver did not start (%s): got \"%s\"",
		    f->script, line);
	assert_int_equal(parse_u64(line + 6, 1, 65535, &port, &error), 0);
	f->port = (int)port;
}

void
dns_fixture_stop(struct dns_fixture *f)
{
	int st;

	if (f->pid <= 0)
		return;
	assert_int_equal(kill(f->pid, SIGTERM), 0);
	assert_int_equal(waitpid(f->pid, &st, 0), f->pid);
	f->pid = 0;
	assert_int_equal(unlink(f->zone), 0);
	assert_int_equal(rmdir(f->dir), 0);
}

void
dns_fixture_start(struct dns_fixture *f, const char *zone_text)
{
	FILE *fp;

	find_script(f->script, sizeof(f->script));
	if (access(f->script, R_OK) != 0)
		fail_msg("no %s: set MOAT_DNSSERVER to tests/dns/dnsserver.py",
		    f->script);
	snprintf(f->dir, sizeof(f->dir), "/tmp/moat-test-dns-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->zone, sizeof(f->zone), "%s/test.zone", f->dir);
	fp = fopen(f->zone, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(zone_text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	server_start(f);
}

static void
on_guard(uv_timer_t *t)
{
	bool *expired = t->data;

	*expired = true;
	uv_stop(t->loop);
}

/* Run the loop until *done or DNS_FIXTURE_GUARD_MS pass (a failure). */
void
loop_run_until(uv_loop_t *loop, const bool *done)
{
	uv_timer_t guard;
	bool expired = false;

	assert_int_equal(uv_timer_init(loop, &guard), 0);
	guard.data = &expired;
	assert_int_equal(uv_timer_start(&guard, on_guard, DNS_FIXTURE_GUARD_MS, 0), 0);
	while (!*done && !expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_false(expired);
}

/* Run for ms milliseconds. */
void
loop_run_for(uv_loop_t *loop, unsigned ms)
{
	uv_timer_t t;
	bool expired = false;

	assert_int_equal(uv_timer_init(loop, &t), 0);
	t.data = &expired;
	assert_int_equal(uv_timer_start(&t, on_guard, ms, 0), 0);
	while (!expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}
