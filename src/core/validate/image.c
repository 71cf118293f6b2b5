/*
 * image.c - image layers and image registry credentials (see
 * validate_image.h).
 */
#include "bbs/validate_image.h"
#include "validate_int.h"

int bbs_validate_image_layer(const Models__ImageLayer *l, struct bbs_problems *p)
{
    int exclusive = l->layer_type == MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE;
    int no_algorithm =
        l->digest_algorithm == MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__DigestAlgorithmInvalid;
    int known_algorithm = l->digest_algorithm == MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA256 ||
                          l->digest_algorithm == MODELS__IMAGE_LAYER__DIGEST_ALGORITHM__SHA512;
    int n = 0;

    if (empty(l->url)) {
        n += bbs_problems_field(p, "url");
    }
    if (empty(l->destination_path)) {
        n += bbs_problems_field(p, "destination_path");
    }
    if (!exclusive && l->layer_type != MODELS__IMAGE_LAYER__TYPE__SHARED) {
        n += bbs_problems_field(p, "layer_type");
    }
    if (l->media_type != MODELS__IMAGE_LAYER__MEDIA_TYPE__TGZ &&
        l->media_type != MODELS__IMAGE_LAYER__MEDIA_TYPE__TAR &&
        l->media_type != MODELS__IMAGE_LAYER__MEDIA_TYPE__ZIP) {
        n += bbs_problems_field(p, "media_type");
    }
    if ((!empty(l->digest_value) || exclusive) && no_algorithm) {
        n += bbs_problems_field(p, "digest_algorithm");
    }
    if ((!no_algorithm || exclusive) && empty(l->digest_value)) {
        n += bbs_problems_field(p, "digest_value");
    }
    if (!empty(l->digest_value) && !known_algorithm) {
        n += bbs_problems_field(p, "digest_algorithm");
    }
    return n;
}

int bbs_validate_image_layers(Models__ImageLayer *const *layers, size_t n,
                              const char *legacy_download_user, struct bbs_problems *p)
{
    int k = 0;
    int exclusive = 0;

    for (size_t i = 0; i < n; i++) {
        const Models__ImageLayer *l = layers[i];
        if (l == NULL) {
            continue;
        }
        if (bbs_validate_image_layer(l, NULL) > 0) {
            k += bbs_problems_field(p, "image_layer");
            k += bbs_validate_image_layer(l, p);
        }
        if (l->layer_type == MODELS__IMAGE_LAYER__TYPE__EXCLUSIVE) {
            exclusive = 1;
        }
    }
    if (exclusive && empty(legacy_download_user)) {
        k += bbs_problems_field(p, "legacy_download_user");
    }
    return k;
}

int bbs_validate_image_credentials(const char *username, const char *password,
                                   struct bbs_problems *p)
{
    int n = 0;

    if (empty(username) && !empty(password)) {
        n += bbs_problems_field(p, "image_username");
    }
    if (!empty(username) && empty(password)) {
        n += bbs_problems_field(p, "image_password");
    }
    return n;
}
