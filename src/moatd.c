/* moatd: the mail server daemon's entry point: arguments, config, and
 * either --check or the master process (master.c). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"
#include "proc.h"

#define MOATD_DEFAULT_CONFIG "/etc/moat/moatd.conf"

static void
usage(FILE *f)
{
	fprintf(f, "usage: moatd [-c FILE] [--check]\n"
	    "  -c FILE   configuration file (default %s)\n"
	    "  --check   validate the configuration and exit\n",
	    MOATD_DEFAULT_CONFIG);
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	const char *path = MOATD_DEFAULT_CONFIG;
	bool check = false;
	char err[1024];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--check") == 0) {
			check = true;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "moatd: %s\n", err);
		return 1;
	}
	if (check) {
		struct proc_user pu;

		if (proc_user_lookup(cfg.user, &pu, err, sizeof(err)) < 0) {
			fprintf(stderr, "moatd: %s\n", err);
			return 1;
		}
		if (cfg.tls_cert[0] != '\0' &&
		    (access(cfg.tls_cert, R_OK) != 0 ||
		    access(cfg.tls_key, R_OK) != 0)) {
			fprintf(stderr, "moatd: [tls] cert or key not "
			    "readable: %s, %s\n", cfg.tls_cert, cfg.tls_key);
			return 1;
		}
		printf("moatd: %s: configuration ok\n", path);
		return 0;
	}
	return master_run(path, &cfg);
}
