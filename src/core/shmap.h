/* shmap: a file-backed table shared by processes (MAP_SHARED). It opens
 * the file and maps it when its header fits the expected layout, or
 * builds a fresh one next to it and renames it into place; and it keeps
 * the robust, process-shared locks that live inside the file. What the
 * header holds and how the table is laid out stay with each user
 * (dynscreen, outbreak_table). */
#ifndef MOAT_SHMAP_H
#define MOAT_SHMAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A lock in the file, alone on its cache line so neighbours do not
 * share one. */
union shmap_mutex {
	pthread_mutex_t	 m;
	char		 pad[64];
};

_Static_assert(sizeof(pthread_mutex_t) <= 64, "a mutex fits its line");

/* What one kind of file looks like. The header starts with the 8 octets
 * of magic, which a fresh file gets last (a file cut short before that
 * is never valid). */
struct shmap_layout {
	const char	*name;		/* log prefix: "dynscreen" */
	const char	*magic;		/* 8 octets */
	size_t		 header_size;
	/* Why hdr (header_size octets, zero past the end of a short file)
	 * of a file of file_size octets is unusable with want, or NULL.
	 * It must accept only a header that records file_size as the size:
	 * the whole file is mapped. */
	const char	*(*check)(const void *hdr, uint64_t file_size,
			    const void *want);
	/* Fill a fresh header (zeroed, magic not set yet) for want in a
	 * file of size octets. 0, or -1 with *error_r and errno set. */
	int		 (*init)(void *hdr, uint64_t size, const void *want,
			    const char **error_r);
	/* Initialise every lock of the mapped file (shmap_mutex_init()).
	 * 0, or -1 with errno set. */
	int		 (*locks_init)(void *map);
	const char	*recreate_note;	/* logged when re-created; NULL */
};

struct shmap {
	void		*map;
	size_t		 size;
	int		 fd;
	const char	*name;
};

/* Open path and map it. want is handed to lay->check and lay->init. With
 * create_size 0, the file must exist and be valid. Otherwise a missing
 * or invalid file (logged) is replaced by a fresh one of create_size
 * octets, and the locks are initialised: only the one creator may do
 * that, before any other process maps the file. Returns 0, or -1 with
 * *error_r and errno set (ENOENT: missing or invalid). */
int shmap_open(struct shmap *m, const struct shmap_layout *lay,
    const char *path, const void *want, uint64_t create_size,
    const char **error_r);
/* Unmap and close; NULL-safe on a closed map. */
void shmap_close(struct shmap *m);
int shmap_sync(struct shmap *m);
int shmap_chown(struct shmap *m, uid_t uid, gid_t gid);

/* Initialise n robust, process-shared locks, the i-th at first + i *
 * stride octets. 0, or -1 with errno set. */
int shmap_mutex_init(pthread_mutex_t *first, size_t n, size_t stride);
/* Take the lock. True when its holder died with it: the lock is held and
 * consistent again, and what it guards may be half written (the caller
 * logs it). Any other failure is fatal. */
bool shmap_lock(pthread_mutex_t *m);
void shmap_unlock(pthread_mutex_t *m);

#endif
