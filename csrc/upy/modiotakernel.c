/* modiotakernel.c - MicroPython user C module "iotakernel": the iota_edge C kernel for devices, bytes in / str
 * out, the same functions iota_edge/_native.py exposes on CPython (it imports this module on MicroPython).
 *
 *   import iotakernel
 *   iotakernel.curl_hash("9" * 81, 81)                 # -> 81 trytes
 *   iotakernel.generate_address(seed, 0, 2)            # -> 81 trytes
 *   iotakernel.search_nonce(tx_trytes, 9)              # -> 27 trytes (portable kernel, one thread)
 *
 * Callers (iota_edge's portable core) validate arguments; every kernel status other than IK_OK still raises
 * ValueError here. Large buffers (signatures, transactions) live on the MicroPython heap, not the C stack. */
#include "py/obj.h"
#include "py/runtime.h"

#include "iota_kernel.h"

static void ikm_check(ik_status st)
{
    if (st != IK_OK) {
        mp_raise_ValueError(MP_ERROR_TEXT("iotakernel: invalid trytes, length or value"));
    }
}

/* Trits of a str/bytes argument of exactly n trytes (n == 0: any length, returned in *len). */
static const char *ikm_trytes(mp_obj_t obj, size_t n, size_t *len)
{
    size_t l;
    const char *s = mp_obj_str_get_data(obj, &l);
    if (n != 0 && l != n) {
        mp_raise_ValueError(MP_ERROR_TEXT("iotakernel: wrong number of trytes"));
    }
    if (len) {
        *len = l;
    }
    return s;
}

static mp_obj_t ikm_str(const int8_t *trits, size_t n_trits)
{
    size_t n = n_trits / 3;
    char *out = m_new(char, n);
    mp_obj_t s;
    ikm_check(ik_trits_to_trytes(trits, n_trits, out));
    s = mp_obj_new_str(out, n);
    m_del(char, out, n);
    return s;
}

static mp_obj_t ikm_curl_hash(size_t n_args, const mp_obj_t *args)
{
    size_t len;
    const char *trytes = ikm_trytes(args[0], 0, &len);
    unsigned rounds = n_args > 1 ? (unsigned)mp_obj_get_int(args[1]) : 81u;
    char out[IK_HASH_TRYTES];
    ikm_check(ik_curl_hash_trytes(trytes, len, rounds, out));
    return mp_obj_new_str(out, IK_HASH_TRYTES);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ikm_curl_hash_obj, 1, 2, ikm_curl_hash);

static mp_obj_t ikm_kerl_hash(size_t n_args, const mp_obj_t *args)
{
    size_t len;
    const char *trytes = ikm_trytes(args[0], 0, &len);
    mp_int_t length = n_args > 1 ? mp_obj_get_int(args[1]) : IK_HASH_TRYTES;
    char *out;
    mp_obj_t s;
    if (length <= 0 || length % IK_HASH_TRYTES != 0) {
        ikm_check(IK_ERR_LENGTH);
    }
    out = m_new(char, (size_t)length);
    ikm_check(ik_kerl_hash_trytes(trytes, len, out, (size_t)length));
    s = mp_obj_new_str(out, (size_t)length);
    m_del(char, out, (size_t)length);
    return s;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ikm_kerl_hash_obj, 1, 2, ikm_kerl_hash);

static mp_obj_t ikm_generate_address(mp_obj_t seed_obj, mp_obj_t index_obj, mp_obj_t security_obj)
{
    int8_t seed[IK_HASH_TRITS];
    int8_t address[IK_HASH_TRITS];
    mp_int_t index = mp_obj_get_int(index_obj);
    if (index < 0) {
        ikm_check(IK_ERR_VALUE);
    }
    ikm_check(ik_trytes_to_trits(ikm_trytes(seed_obj, IK_HASH_TRYTES, NULL), IK_HASH_TRYTES, seed));
    ikm_check(ik_address(seed, (uint64_t)index, (unsigned)mp_obj_get_int(security_obj), address));
    return ikm_str(address, IK_HASH_TRITS);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ikm_generate_address_obj, ikm_generate_address);

static void ikm_normalized(mp_obj_t bundle_obj, int8_t normalized[IK_HASH_TRYTES])
{
    int8_t hash[IK_HASH_TRITS];
    ikm_check(ik_trytes_to_trits(ikm_trytes(bundle_obj, IK_HASH_TRYTES, NULL), IK_HASH_TRYTES, hash));
    ik_normalize(hash, normalized);
}

static mp_obj_t ikm_sign(size_t n_args, const mp_obj_t *args)
{
    int8_t seed[IK_HASH_TRITS];
    int8_t normalized[IK_HASH_TRYTES];
    mp_int_t index = mp_obj_get_int(args[1]);
    mp_int_t security = mp_obj_get_int(args[2]);
    size_t n;
    int8_t *sig;
    mp_obj_t list;
    mp_int_t f;
    (void)n_args;
    if (index < 0 || security < 1 || security > IK_MAX_SECURITY) {
        ikm_check(IK_ERR_VALUE);
    }
    ikm_check(ik_trytes_to_trits(ikm_trytes(args[0], IK_HASH_TRYTES, NULL), IK_HASH_TRYTES, seed));
    ikm_normalized(args[3], normalized);
    n = (size_t)security * IK_FRAGMENT_TRITS;
    sig = m_new(int8_t, n);
    ikm_check(ik_sign(seed, (uint64_t)index, (unsigned)security, normalized, sig));
    list = mp_obj_new_list(0, NULL);
    for (f = 0; f < security; f++) {
        mp_obj_list_append(list, ikm_str(sig + f * IK_FRAGMENT_TRITS, IK_FRAGMENT_TRITS));
    }
    m_del(int8_t, sig, n);
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ikm_sign_obj, 4, 4, ikm_sign);

static mp_obj_t ikm_verify_signature(mp_obj_t address_obj, mp_obj_t fragments_obj, mp_obj_t bundle_obj)
{
    int8_t address[IK_HASH_TRITS];
    int8_t normalized[IK_HASH_TRYTES];
    size_t count;
    mp_obj_t *items;
    int8_t *sig;
    size_t f;
    ik_status st;
    mp_obj_get_array(fragments_obj, &count, &items);
    if (count == 0) {
        return mp_const_false;
    }
    ikm_check(ik_trytes_to_trits(ikm_trytes(address_obj, IK_HASH_TRYTES, NULL), IK_HASH_TRYTES, address));
    ikm_normalized(bundle_obj, normalized);
    sig = m_new(int8_t, count * IK_FRAGMENT_TRITS);
    for (f = 0; f < count; f++) {
        st = ik_trytes_to_trits(ikm_trytes(items[f], IK_FRAGMENT_TRYTES, NULL), IK_FRAGMENT_TRYTES,
                                sig + f * IK_FRAGMENT_TRITS);
        if (st != IK_OK) {
            m_del(int8_t, sig, count * IK_FRAGMENT_TRITS);
            ikm_check(st);
        }
    }
    st = ik_verify(address, sig, count, normalized);
    m_del(int8_t, sig, count * IK_FRAGMENT_TRITS);
    if (st == IK_ERR_MISMATCH) {
        return mp_const_false;
    }
    ikm_check(st);
    return mp_const_true;
}
static MP_DEFINE_CONST_FUN_OBJ_3(ikm_verify_signature_obj, ikm_verify_signature);

/* One thread, no cancellation (a device has nothing else to run meanwhile); stack: see csrc/README.md. */
static mp_obj_t ikm_search_nonce(mp_obj_t tx_obj, mp_obj_t mwm_obj)
{
    const char *tx = ikm_trytes(tx_obj, IK_TX_TRYTES, NULL);
    mp_int_t mwm = mp_obj_get_int(mwm_obj);
    int8_t *trits;
    int8_t nonce[IK_NONCE_TRITS];
    ik_pow_control ctl = {0, 0, 0};
    ik_status st;
    if (mwm < 0 || mwm > IK_HASH_TRITS) {
        ikm_check(IK_ERR_VALUE);
    }
    trits = m_new(int8_t, IK_TX_TRITS);
    st = ik_trytes_to_trits(tx, IK_TX_TRYTES, trits);
    if (st == IK_OK) {
        st = ik_pow_search(trits, (unsigned)mwm, IK_SIMD_AUTO, 0, 1, &ctl, nonce);
    }
    m_del(int8_t, trits, IK_TX_TRITS);
    ikm_check(st);
    return ikm_str(nonce, IK_NONCE_TRITS);
}
static MP_DEFINE_CONST_FUN_OBJ_2(ikm_search_nonce_obj, ikm_search_nonce);

static const mp_rom_map_elem_t ikm_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_iotakernel)},
    {MP_ROM_QSTR(MP_QSTR_curl_hash), MP_ROM_PTR(&ikm_curl_hash_obj)},
    {MP_ROM_QSTR(MP_QSTR_kerl_hash), MP_ROM_PTR(&ikm_kerl_hash_obj)},
    {MP_ROM_QSTR(MP_QSTR_generate_address), MP_ROM_PTR(&ikm_generate_address_obj)},
    {MP_ROM_QSTR(MP_QSTR_sign), MP_ROM_PTR(&ikm_sign_obj)},
    {MP_ROM_QSTR(MP_QSTR_verify_signature), MP_ROM_PTR(&ikm_verify_signature_obj)},
    {MP_ROM_QSTR(MP_QSTR_search_nonce), MP_ROM_PTR(&ikm_search_nonce_obj)},
};
static MP_DEFINE_CONST_DICT(ikm_globals, ikm_globals_table);

const mp_obj_module_t iotakernel_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&ikm_globals,
};

MP_REGISTER_MODULE(MP_QSTR_iotakernel, iotakernel_user_cmodule);
