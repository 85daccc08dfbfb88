/* dns_fixture: for unit tests that need a real DNS server: writes a
 * zone to a temporary directory, starts tests/dns/dnsserver.py on it (on
 * a port of its choosing; $MOAT_DNSSERVER, else the script next to this
 * file) and stops it; and the loop helpers those tests share. Failures
 * are cmocka assertions. */
#ifndef MOAT_DNS_FIXTURE_H
#define MOAT_DNS_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#include <uv.h>

#define DNS_FIXTURE_GUARD_MS 10000	/* no single test step may take
					   longer */

struct dns_fixture {
	char	 dir[64];
	char	 zone[96];
	char	 script[512];
	pid_t	 pid;
	int	 port;
};

void dns_fixture_start(struct dns_fixture *f, const char *zone_text);
void dns_fixture_stop(struct dns_fixture *f);

/* Run the loop until *done (a failure after DNS_FIXTURE_GUARD_MS). */
void loop_run_until(uv_loop_t *loop, const bool *done);
/* Run the loop for ms milliseconds. */
void loop_run_for(uv_loop_t *loop, unsigned ms);

#endif
