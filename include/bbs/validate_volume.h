/*
 * validate_volume.h - volume mounts (pure core, reference 2.8).
 */
#ifndef BBS_VALIDATE_VOLUME_H
#define BBS_VALIDATE_VOLUME_H

#include <stddef.h>

#include "bbs/validate_problems.h"
#include "volume_mount.pb-c.h"

/*
 * One VolumeMount: driver, mode ("r" or "rw"), shared volume id,
 * dedicated mounter id, each a free sentence ("invalid volume_mount
 * driver", ...) with no header. `v` is borrowed; `p` may be NULL (count
 * only). Returns the number of problems.
 */
int bbs_validate_volume_mount(const Models__VolumeMount *v, struct bbs_problems *p);

/* Every mount of a list in order, NULL elements skipped. */
int bbs_validate_volume_mounts(Models__VolumeMount *const *mounts, size_t n,
                               struct bbs_problems *p);

#endif /* BBS_VALIDATE_VOLUME_H */
