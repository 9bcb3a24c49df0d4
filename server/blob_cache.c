/* SPDX-License-Identifier: Apache-2.0 */
/* A direct-mapped table of small blobs by digest, under one mutex, each
 * with the stamp of the file it was read from. */
#include "server/blob_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 1024
#define DEFAULT_MAX_BYTES ((size_t)8 << 20)

typedef struct {
	ureg_digest digest;
	ureg_blob_cache_stamp stamp;
	char *data; /* NULL: empty */
	size_t len;
} slot;

struct ureg_blob_cache {
	pthread_mutex_t lock;
	size_t max_bytes, bytes;
	slot slots[SLOTS];
};

int ureg_blob_cache_new(ureg_blob_cache **out, size_t max_bytes)
{
	ureg_blob_cache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return ureg_error_set(UREG_ENOMEM, "out of memory");
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return ureg_error_set(UREG_ENOMEM, "cannot create a mutex");
	}
	c->max_bytes = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
	*out = c;
	return 0;
}

void ureg_blob_cache_free(ureg_blob_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < SLOTS; i++)
		free(c->slots[i].data);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void ureg_blob_cache_stamp_of(ureg_blob_cache_stamp *out, const struct stat *st)
{
	memset(out, 0, sizeof(*out));
	out->dev = (uint64_t)st->st_dev;
	out->ino = (uint64_t)st->st_ino;
	out->size = (uint64_t)st->st_size;
	out->mtime_ns =
	        (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	out->ctime_ns =
	        (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static int stamp_equal(const ureg_blob_cache_stamp *a,
                       const ureg_blob_cache_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static slot *slot_for(ureg_blob_cache *c, const ureg_digest *d)
{
	size_t h = (size_t)d->bytes[0] | (size_t)d->bytes[1] << 8 |
	           (size_t)d->bytes[2] << 16;

	return &c->slots[h % SLOTS];
}

int ureg_blob_cache_get(char **out, size_t *len, ureg_blob_cache *c,
                        const ureg_digest *digest,
                        const ureg_blob_cache_stamp *stamp)
{
	slot *s;
	int hit = 0;

	*out = NULL;
	*len = 0;
	if (!c)
		return 0;
	s = slot_for(c, digest);
	pthread_mutex_lock(&c->lock);
	if (s->data && ureg_digest_equal(&s->digest, digest) &&
	    stamp_equal(&s->stamp, stamp) &&
	    (*out = malloc(s->len ? s->len : 1)) != NULL) {
		memcpy(*out, s->data, s->len);
		*len = s->len;
		hit = 1;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

int ureg_blob_cache_put(ureg_blob_cache *c, const ureg_digest *digest,
                        const ureg_blob_cache_stamp *stamp, const void *data,
                        size_t len)
{
	ureg_digest check;
	char *copy;
	slot *s;
	int kept = 0;

	if (!c || len > UREG_BLOB_CACHE_ENTRY_MAX || len > c->max_bytes)
		return 0;
	/* hashed outside the lock; what the disk holds is checked again */
	ureg_digest_buffer(&check, data, len);
	if (!ureg_digest_equal(&check, digest))
		return 0;
	if (!(copy = malloc(len ? len : 1)))
		return 0;
	memcpy(copy, data, len);
	s = slot_for(c, digest);
	pthread_mutex_lock(&c->lock);
	if (s->data && ureg_digest_equal(&s->digest, digest) &&
	    stamp_equal(&s->stamp, stamp)) {
		/* another thread was first */
	} else if (c->bytes - (s->data ? s->len : 0) + len <= c->max_bytes) {
		c->bytes -= s->data ? s->len : 0;
		free(s->data);
		s->digest = *digest;
		s->stamp = *stamp;
		s->data = copy;
		s->len = len;
		c->bytes += len;
		copy = NULL;
		kept = 1;
	}
	pthread_mutex_unlock(&c->lock);
	free(copy);
	return kept;
}
