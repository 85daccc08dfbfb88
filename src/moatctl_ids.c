/* moatctl_ids: see moatctl_ids.h. */
#include "moatctl_ids.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "queue.h"

int
moatctl_delete_ids(const char *data_dir, int argc, char **argv, int first,
    int (*del)(const char *data_dir, const char *id), const char *where)
{
	int i, rc = 0;

	for (i = first; i < argc; i++) {
		if (!queue_id_valid(argv[i])) {
			fprintf(stderr, "moatctl: %s: not a queue id\n",
			    argv[i]);
			rc = 1;
			continue;
		}
		if (del(data_dir, argv[i]) < 0) {
			if (errno == ENOENT)
				fprintf(stderr, "moatctl: %s: no such message "
				    "in the %s\n", argv[i], where);
			else
				fprintf(stderr, "moatctl: %s: %s\n", argv[i],
				    strerror(errno));
			rc = 1;
			continue;
		}
		printf("deleted %s\n", argv[i]);
	}
	return rc;
}
