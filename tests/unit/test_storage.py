"""Tests of zkfl_dapp.storage: Kubo-exact CIDs, the embedded block store and the Kubo RPC client.

Known-answer vectors come from Kubo's own sharness test ``test/sharness/t0040-add-and-cat.sh``
(github.com/ipfs/kubo): the CIDs it expects from ``ipfs add --cid-version=1`` for small files
and for pseudo-random files of 5 MiB (``random 5242880 41``) and 100 MiB
(``random 104857600 42``) made by Kubo's test helper go-random. :func:`go_random` below reproduces
that helper (Go's ``math/rand``
seeded with the seed, ``Uint32()`` written little-endian, 4 bytes per call) and is itself checked
against the sha1 digests the same sharness test asserts for those files.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from zkfl_dapp.exceptions import (
    CidMismatchError,
    CidNotFoundError,
    ConfigError,
    InvalidCidError,
    StorageError,
)
from zkfl_dapp.storage.base import Storage, open_storage
from zkfl_dapp.storage.cid import CHUNK_SIZE, MAX_LINKS, Cid
from zkfl_dapp.storage.embedded import EmbeddedStore
from zkfl_dapp.storage.kubo import KuboRpcStore
from zkfl_dapp.storage.unixfs import _decode_file_node, _fields, _import, compute_cid

# --- known-answer vectors from kubo test/sharness/t0040-add-and-cat.sh ----------------------------
# test_add_cat_raw: `touch zero-length-file; ipfs add -q --raw-leaves zero-length-file`
EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
# add_directory '--cid-version=1': MARS = `echo "Hello Mars!"`, VENUS = `echo "Hello Venus!"`
SMALL_VECTORS = [
    (b"", EMPTY_CID),
    (b"Hello Mars!\n", "bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4"),
    (b"Hello Venus!\n", "bafkreihfsphazrk2ilejpekyltjeh5k4yvwgjuwg26ueafohqioeo3sdca"),
]
# test_add_cat_5MB --cid-version=1: `random 5242880 41`, sha1 (multihash) 11145620fb92...
BIG5_SIZE, BIG5_SEED = 5242880, 41
BIG5_SHA1 = "5620fb92eb5a49c9986b5c6844efda37e471660e"
BIG5_CID = "bafybeigfnx3tka2rf5ovv2slb7ymrt4zbwa3ryeqibe6fipyt5vgsrli3u"
# test_add_cat_expensive --cid-version=1: `random 104857600 42` (400 chunks, so a depth-2 tree
# whose root links a full 174-link node, another full one and a 52-link one)
BIG100_SIZE, BIG100_SEED = 104857600, 42
BIG100_SHA1 = "885b197b01e0f7ff584458dc236cb9477d2e736d"
BIG100_CID = "bafybeidkj5ecbhrqmzrcee2rw7qwsx24z3364qya3fnp2ktkg2tnsrewhi"


# --- go-random: Go's math/rand, as used by Kubo's sharness `random SIZE SEED` -------------
def _go_seedrand(x: int) -> int:
    hi, lo = divmod(x, 44488)
    x = 48271 * lo - 3399 * hi
    return x + 0x7FFFFFFF if x < 0 else x


def go_random(size: int, seed: int) -> bytes:
    """Bytes of ``random SIZE SEED``.

    That is Go math/rand ``Seed(seed)``, then ``Uint32()`` written little-endian.
    """
    np = pytest.importorskip("numpy")
    mask = (1 << 64) - 1
    seed %= 0x7FFFFFFF
    x = seed or 89482311
    vec = [0] * 607
    for i in range(-20, 607):
        x = _go_seedrand(x)
        if i >= 0:
            u = (x << 40) & mask
            x = _go_seedrand(x)
            u ^= x << 20
            x = _go_seedrand(x)
            u ^= x
            vec[i] = (u ^ _GO_RNG_COOKED[i]) & mask
    # Go's rngSource is the lagged Fibonacci sequence y[n] = y[n-607] + y[n-273] (mod 2**64);
    # these are its 607 starting values in the order the generator consumes them.
    window = np.array([vec[(940 - k) % 607] for k in range(607)], dtype=np.uint64)
    count = (size + 3) // 4
    block = 273 * 1024
    words = np.empty(count + block, dtype="<u4")
    done = 0
    while done < count:
        buf = np.empty(607 + block, dtype=np.uint64)
        buf[:607] = window
        for a in range(607, 607 + block, 273):
            buf[a : a + 273] = buf[a - 607 : a - 334] + buf[a - 273 : a]
        words[done : done + block] = (buf[607:] >> np.uint64(31)) & np.uint64(0xFFFFFFFF)
        window = buf[-607:].copy()
        done += block
    return bytes(words[:count].tobytes()[:size])


@pytest.fixture(scope="module")
def big5() -> bytes:
    data = go_random(BIG5_SIZE, BIG5_SEED)
    assert hashlib.sha1(data).hexdigest() == BIG5_SHA1  # the generator matches Kubo's
    return data


@pytest.fixture
def store(tmp_path: pathlib.Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "ipfs")


def _pattern(size: int, salt: int = 0) -> bytes:
    """Deterministic non-repeating bytes (every chunk differs, so no block is shared)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{salt}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _blocks(data: bytes, **kw: int) -> dict[str, bytes]:
    found: dict[str, bytes] = {}

    def sink(cid: Cid, block: memoryview) -> None:
        found[str(cid)] = bytes(block)

    _import(data, sink=sink, **kw)
    return found


def _unixfs(block: bytes) -> dict[int, list[int | bytes]]:
    pb_data = [v for n, v in _fields(block) if n == 1]
    assert len(pb_data) == 1 and isinstance(pb_data[0], bytes)
    out: dict[int, list[int | bytes]] = {}
    for number, value in _fields(pb_data[0]):
        out.setdefault(number, []).append(value)
    return out


# --- CIDs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "expected"), SMALL_VECTORS)
def test_small_known_vectors(data: bytes, expected: str) -> None:
    assert compute_cid(data) == expected


def test_5mib_known_vector(big5: bytes) -> None:
    assert compute_cid(big5) == BIG5_CID


def test_100mib_known_vector_exercises_174_link_fanout() -> None:
    data = go_random(BIG100_SIZE, BIG100_SEED)
    assert hashlib.sha1(data).hexdigest() == BIG100_SHA1
    assert compute_cid(data) == BIG100_CID


def test_single_chunk_boundary_is_raw() -> None:
    data = _pattern(CHUNK_SIZE)
    cid = compute_cid(data)
    assert cid.startswith("bafkrei") and cid.codec == 0x55
    assert cid.multihash == b"\x12\x20" + hashlib.sha256(data).digest()


def test_two_chunks_root_node_layout() -> None:
    data = _pattern(CHUNK_SIZE + 1)
    blocks = _blocks(data)
    root = compute_cid(data)
    assert root.startswith("bafybei") and root.codec == 0x70 and len(blocks) == 3
    block = blocks[root]
    # Links (field 2) come before Data (field 1); each link has Hash, empty Name and Tsize.
    assert [n for n, _ in _fields(block)] == [2, 2, 1]
    leaf_sizes = [CHUNK_SIZE, 1]
    for (_, link), size, chunk in zip(
        list(_fields(block))[:2],
        leaf_sizes,
        [data[:CHUNK_SIZE], data[CHUNK_SIZE:]],
        strict=True,
    ):
        assert isinstance(link, bytes)
        assert list(_fields(link))[1:] == [(2, b""), (3, size)]
        assert compute_cid(chunk) in blocks
    assert _unixfs(block) == {1: [2], 3: [CHUNK_SIZE + 1], 4: leaf_sizes}
    node = _decode_file_node(block)
    assert len(node.links) == 2 and node.filesize == CHUNK_SIZE + 1 and node.data == b""


def _shape(blocks: dict[str, bytes], cid: str) -> object:
    """The tree under ``cid`` as nested lists of leaf sizes."""
    if Cid(cid).codec == 0x55:
        return len(blocks[cid])
    node = _decode_file_node(blocks[cid])
    from zkfl_dapp.storage.cid import _cid_from_bytes

    return [_shape(blocks, _cid_from_bytes(link)) for link in node.links]


@pytest.mark.parametrize(
    ("size", "max_links", "expected"),
    [
        (4, 4, [1, 1, 1, 1]),
        (5, 4, [[1, 1, 1, 1], [1]]),
        # 9 leaves, 2 links per node: depth 4 since 2**3 = 8 < 9; the last subtree is a chain
        (9, 2, [[[[1, 1], [1, 1]], [[1, 1], [1, 1]]], [[[1]]]]),
        (10, 3, [[[1, 1, 1], [1, 1, 1], [1, 1, 1]], [[1]]]),
        (MAX_LINKS + 1, MAX_LINKS, [[1] * MAX_LINKS, [1]]),
    ],
)
def test_balanced_layout_fanout(size: int, max_links: int, expected: object) -> None:
    data = _pattern(size)
    blocks = _blocks(data, chunk_size=1, max_links=max_links)
    root = _import(data, chunk_size=1, max_links=max_links)
    assert _shape(blocks, root) == expected


def test_tsize_is_cumulative_serialized_size() -> None:
    data = _pattern(10)
    blocks = _blocks(data, chunk_size=1, max_links=3)
    root = _import(data, chunk_size=1, max_links=3)
    # the root's Tsizes plus its own length add up to all the bytes of all blocks
    tsizes = [
        next(v for n, v in _fields(link) if n == 3)
        for n, link in _fields(blocks[root])
        if n == 2 and isinstance(link, bytes)
    ]
    assert sum(int(t) for t in tsizes) + len(blocks[root]) == sum(len(b) for b in blocks.values())


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "hello",
        "bafy",
        EMPTY_CID[:-1],
        EMPTY_CID + " ",
        "Qm123",
        "zzzz",
        "bafkrei" + "a" * 40,
        "bafkreiabaeaqcaibaeaqcaibaeaqcaib",
    ],
)
def test_malformed_cid(garbage: str, store: EmbeddedStore) -> None:
    with pytest.raises(InvalidCidError):
        Cid.parse(garbage)
    with pytest.raises(InvalidCidError):
        store.get(garbage)
    with pytest.raises(InvalidCidError):
        store.has(garbage)
    with pytest.raises(InvalidCidError):
        store.pin(garbage)


def test_cid_properties() -> None:
    cid = Cid.parse(EMPTY_CID)
    assert isinstance(cid, str) and cid == EMPTY_CID and cid.version == 1 and cid.codec == 0x55
    assert cid.canonical == EMPTY_CID
    v0 = Cid.parse("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")  # kubo: empty file, CIDv0
    assert v0.version == 0 and v0.codec == 0x70 and v0.canonical.startswith("bafybei")
    assert Cid.parse(EMPTY_CID.upper()).canonical == EMPTY_CID
    with pytest.raises(InvalidCidError):
        Cid(123)  # type: ignore[arg-type]


# --- the embedded store -------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7])
def test_embedded_round_trip(store: EmbeddedStore, size: int) -> None:
    data = _pattern(size, salt=size)
    cid = store.put(data)
    assert cid == compute_cid(data)
    assert isinstance(cid, Cid)
    assert store.has(cid) and store.has(str(cid))
    assert store.get(cid) == data
    assert store.get(str(cid)) == data
    expected_blocks = 1 if size <= CHUNK_SIZE else -(-size // CHUNK_SIZE) + 1
    assert len(list((store.root / "blocks").iterdir())) == expected_blocks


def test_embedded_round_trip_multi_mb_vector(store: EmbeddedStore, big5: bytes) -> None:
    cid = store.put(big5)
    assert cid == BIG5_CID
    assert len(list((store.root / "blocks").iterdir())) == 20 + 1
    assert EmbeddedStore(store.root).get(BIG5_CID) == big5  # a fresh instance reads the same dir
    assert not list((store.root / "blocks").glob(".tmp-*"))


def test_embedded_is_a_storage(store: EmbeddedStore) -> None:
    assert isinstance(store, Storage)


def test_put_is_idempotent_and_heals(store: EmbeddedStore) -> None:
    data = b"model weights"
    cid = store.put(data)
    path = store.root / "blocks" / cid
    path.write_bytes(b"model weightZ")
    with pytest.raises(CidMismatchError):
        store.get(cid)
    assert store.put(data) == cid
    assert store.get(cid) == data


def test_tampered_raw_block(store: EmbeddedStore) -> None:
    good, bad = b"update from client 1", b"update from client 2"
    good_cid, bad_cid = store.put(good), store.put(bad)
    (store.root / "blocks" / bad_cid).write_bytes(b"update from client 3")
    with pytest.raises(CidMismatchError):
        store.get(bad_cid)
    assert store.get(good_cid) == good


def test_tampered_leaf_of_multi_chunk_file(store: EmbeddedStore) -> None:
    big = _pattern(3 * CHUNK_SIZE, salt=1)
    other = _pattern(2 * CHUNK_SIZE + 5, salt=2)
    big_cid, other_cid = store.put(big), store.put(other)
    middle_leaf = compute_cid(big[CHUNK_SIZE : 2 * CHUNK_SIZE])
    path = store.root / "blocks" / middle_leaf
    tampered = bytearray(path.read_bytes())
    tampered[100] ^= 1
    path.write_bytes(bytes(tampered))
    with pytest.raises(CidMismatchError):
        store.get(big_cid)
    assert store.get(other_cid) == other
    assert store.get(compute_cid(big[:CHUNK_SIZE])) == big[:CHUNK_SIZE]  # other leaves still fine


def test_tampered_root_node(store: EmbeddedStore) -> None:
    data = _pattern(CHUNK_SIZE + 10)
    cid = store.put(data)
    path = store.root / "blocks" / cid
    path.write_bytes(path.read_bytes()[:-1] + b"\x0b")
    with pytest.raises(CidMismatchError):
        store.get(cid)
    assert not store.has(cid)
    assert store.put(data) == cid and store.get(cid) == data


def test_missing_leaf_of_multi_chunk_file(store: EmbeddedStore) -> None:
    data = _pattern(2 * CHUNK_SIZE + 1)
    cid = store.put(data)
    (store.root / "blocks" / compute_cid(data[-1:])).unlink()
    assert not store.has(cid)
    with pytest.raises(CidMismatchError):  # the DAG is incomplete, not merely absent
        store.get(cid)


def test_missing_cid(store: EmbeddedStore) -> None:
    missing = compute_cid(b"never stored")
    assert not store.has(missing)
    with pytest.raises(CidNotFoundError):
        store.get(missing)
    with pytest.raises(CidNotFoundError):
        store.pin(missing)
    assert issubclass(CidNotFoundError, StorageError)


def test_pins_persist(store: EmbeddedStore) -> None:
    a, b = store.put(b"a"), store.put(_pattern(CHUNK_SIZE + 1))
    store.pin(a)
    store.pin(b)
    store.pin(str(a))
    assert store.pins() == {a, b}
    assert EmbeddedStore(store.root).pins() == {a, b}
    assert (store.root / "pins.txt").read_text().split() == sorted([a, b])


def test_get_accepts_cidv0_of_stored_dag(store: EmbeddedStore) -> None:
    from multiformats import CID

    data = _pattern(CHUNK_SIZE * 2)
    cid = store.put(data)
    v0 = str(CID.decode(cid).set(version=0, base="base58btc"))
    assert v0.startswith("Qm")
    assert store.get(v0) == data


# --- open_storage -------------------------------------------------------------------------------
def test_open_storage(tmp_path: pathlib.Path) -> None:
    embedded = open_storage("embedded", root=tmp_path)
    assert isinstance(embedded, EmbeddedStore)
    kubo = open_storage("kubo", api_url="http://10.0.0.1:5001/")
    assert isinstance(kubo, KuboRpcStore) and kubo.api_url == "http://10.0.0.1:5001"
    assert isinstance(open_storage("kubo"), KuboRpcStore)
    with pytest.raises(ConfigError):
        open_storage("embedded")
    with pytest.raises(ConfigError):
        open_storage("s3", root=tmp_path)


# --- the Kubo RPC client against a fake Kubo ------------------------------------------------------
class FakeKubo:
    """Answers the RPC endpoints KuboRpcStore uses as Kubo does (POST only, JSON errors)."""

    def __init__(self) -> None:
        self.blocks: dict[str, bytes] = {}
        self.pins: set[str] = set()
        self.requests: list[httpx.Request] = []
        self.lie_on_add = False
        self.corrupt_cat = False

    @staticmethod
    def _error(message: str) -> httpx.Response:
        return httpx.Response(500, json={"Message": message, "Code": 0, "Type": "error"})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method != "POST":
            return httpx.Response(405, text="405 - Method Not Allowed")
        params = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        command = request.url.path.removeprefix("/api/v0/")
        if command == "add":
            data = self._multipart_file(request)
            cid = str(compute_cid(data))
            self.blocks[cid] = data
            if params.get("pin") == "true":
                self.pins.add(cid)
            if self.lie_on_add:
                cid = str(compute_cid(data + b"!"))
            line = json.dumps({"Name": "data", "Hash": cid, "Size": str(len(data))})
            return httpx.Response(200, text=line + "\n", headers={"X-Chunked-Output": "1"})
        arg = params.get("arg", "")
        if command == "cat":
            if arg not in self.blocks:
                return self._error(f"block was not found locally (offline): ipld: could not find {arg}")
            return httpx.Response(200, content=self.blocks[arg] + (b"x" if self.corrupt_cat else b""))
        if command == "block/stat":
            if arg not in self.blocks:
                return self._error(f"block was not found locally (offline): ipld: could not find {arg}")
            return httpx.Response(200, json={"Key": arg, "Size": len(self.blocks[arg])})
        if command == "pin/add":
            if arg not in self.blocks:
                return self._error(f"pin: block was not found locally (offline): ipld: could not find {arg}")
            self.pins.add(arg)
            return httpx.Response(200, json={"Pins": [arg]})
        return httpx.Response(404, text="404 page not found")

    @staticmethod
    def _multipart_file(request: httpx.Request) -> bytes:
        content_type = request.headers["content-type"]
        assert content_type.startswith("multipart/form-data")
        boundary = content_type.split("boundary=")[1].encode()
        for part in request.content.split(b"--" + boundary):
            head, _, body = part.partition(b"\r\n\r\n")
            if b'name="file"' in head:
                return body.removesuffix(b"\r\n")
        raise AssertionError("no 'file' part in the add request")


@pytest.fixture
def fake_kubo() -> FakeKubo:
    return FakeKubo()


@pytest.fixture
def kubo(fake_kubo: FakeKubo) -> KuboRpcStore:
    return KuboRpcStore("http://kubo.test:5001", timeout_s=5, transport=httpx.MockTransport(fake_kubo))


@pytest.mark.parametrize("size", [0, 13, CHUNK_SIZE + 1])
def test_kubo_round_trip(kubo: KuboRpcStore, fake_kubo: FakeKubo, size: int) -> None:
    data = _pattern(size)
    cid = kubo.put(data)
    assert cid == compute_cid(data)
    add = fake_kubo.requests[0]
    assert add.url.path == "/api/v0/add"
    assert add.url.params["cid-version"] == "1" and add.url.params["pin"] == "true"
    assert cid in fake_kubo.pins
    assert kubo.has(cid)
    assert kubo.get(cid) == data
    kubo.pin(cid)
    assert isinstance(kubo, Storage)


def test_kubo_node_returning_other_hash(kubo: KuboRpcStore, fake_kubo: FakeKubo) -> None:
    fake_kubo.lie_on_add = True
    with pytest.raises(CidMismatchError, match="non-default settings"):
        kubo.put(b"weights")


def test_kubo_node_serving_wrong_bytes(kubo: KuboRpcStore, fake_kubo: FakeKubo) -> None:
    cid = kubo.put(b"weights")
    fake_kubo.corrupt_cat = True
    with pytest.raises(CidMismatchError):
        kubo.get(cid)


def test_kubo_missing(kubo: KuboRpcStore) -> None:
    missing = compute_cid(b"absent")
    assert not kubo.has(missing)
    with pytest.raises(CidNotFoundError):
        kubo.get(missing)
    with pytest.raises(CidNotFoundError):
        kubo.pin(missing)


def test_kubo_malformed_cid_is_not_sent(kubo: KuboRpcStore, fake_kubo: FakeKubo) -> None:
    for call in (kubo.get, kubo.has, kubo.pin):
        with pytest.raises(InvalidCidError):
            call("not-a-cid")
    assert fake_kubo.requests == []


def _raising(exc: Callable[[httpx.Request], Exception]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(request)

    return httpx.MockTransport(handler)


def test_kubo_unreachable() -> None:
    store = KuboRpcStore(
        "http://127.0.0.1:5001",
        transport=_raising(lambda r: httpx.ConnectError("[Errno 111] Connection refused", request=r)),
    )
    with pytest.raises(StorageError, match=r"cannot reach the Kubo RPC API at http://127\.0\.0\.1:5001"):
        store.put(b"x")
    with pytest.raises(StorageError, match="ipfs daemon"):
        store.has(EMPTY_CID)


def test_kubo_unreachable_real_socket() -> None:
    # Nothing listens on port 9 (discard) of localhost in a test environment: connection refused.
    store = KuboRpcStore("http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(StorageError, match="cannot reach|timed out"):
        store.get(EMPTY_CID)


def test_kubo_timeout() -> None:
    store = KuboRpcStore(transport=_raising(lambda r: httpx.ReadTimeout("timed out", request=r)))
    with pytest.raises(StorageError, match="timed out"):
        store.get(EMPTY_CID)


def test_kubo_other_errors(fake_kubo: FakeKubo) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="403 - Forbidden")

    store = KuboRpcStore(transport=httpx.MockTransport(handler))
    with pytest.raises(StorageError, match="HTTP 403"):
        store.put(b"x")
    garbage = KuboRpcStore(transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>")))
    with pytest.raises(StorageError, match="non-JSON"):
        garbage.put(b"x")
    with pytest.raises(ConfigError):
        KuboRpcStore(timeout_s=0)


# Go's math/rand rngCooked table (src/math/rand/rng.go), needed to reproduce go-random's output.
# fmt: off
_GO_RNG_COOKED = (
    -4181792142133755926, -4576982950128230565, 1395769623340756751,
    5333664234075297259, -6347679516498800754, 9033628115061424579,
    7143218595135194537, 4812947590706362721, 7937252194349799378,
    5307299880338848416, 8209348851763925077, -7107630437535961764,
    4593015457530856296, 8140875735541888011, -5903942795589686782,
    -603556388664454774, -7496297993371156308, 113108499721038619,
    4569519971459345583, -4160538177779461077, -6835753265595711384,
    -6507240692498089696, 6559392774825876886, 7650093201692370310,
    7684323884043752161, -8965504200858744418, -2629915517445760644,
    271327514973697897, -6433985589514657524, 1065192797246149621,
    3344507881999356393, -4763574095074709175, 7465081662728599889,
    1014950805555097187, -4773931307508785033, -5742262670416273165,
    2418672789110888383, 5796562887576294778, 4484266064449540171,
    3738982361971787048, -4699774852342421385, 10530508058128498,
    -589538253572429690, -6598062107225984180, 8660405965245884302,
    10162832508971942, -2682657355892958417, 7031802312784620857,
    6240911277345944669, 831864355460801054, -1218937899312622917,
    2116287251661052151, 2202309800992166967, 9161020366945053561,
    4069299552407763864, 4936383537992622449, 457351505131524928,
    -8881176990926596454, -6375600354038175299, -7155351920868399290,
    4368649989588021065, 887231587095185257, -3659780529968199312,
    -2407146836602825512, 5616972787034086048, -751562733459939242,
    1686575021641186857, -5177887698780513806, -4979215821652996885,
    -1375154703071198421, 5632136521049761902, -8390088894796940536,
    -193645528485698615, -5979788902190688516, -4907000935050298721,
    -285522056888777828, -2776431630044341707, 1679342092332374735,
    6050638460742422078, -2229851317345194226, -1582494184340482199,
    5881353426285907985, 812786550756860885, 4541845584483343330,
    -6497901820577766722, 4980675660146853729, -4012602956251539747,
    -329088717864244987, -2896929232104691526, 1495812843684243920,
    -2153620458055647789, 7370257291860230865, -2466442761497833547,
    4706794511633873654, -1398851569026877145, 8549875090542453214,
    -9189721207376179652, -7894453601103453165, 7297902601803624459,
    1011190183918857495, -6985347000036920864, 5147159997473910359,
    -8326859945294252826, 2659470849286379941, 6097729358393448602,
    -7491646050550022124, -5117116194870963097, -896216826133240300,
    -745860416168701406, 5803876044675762232, -787954255994554146,
    -3234519180203704564, -4507534739750823898, -1657200065590290694,
    505808562678895611, -4153273856159712438, -8381261370078904295,
    572156825025677802, 1791881013492340891, 3393267094866038768,
    -5444650186382539299, 2352769483186201278, -7930912453007408350,
    -325464993179687389, -3441562999710612272, -6489413242825283295,
    5092019688680754699, -227247482082248967, 4234737173186232084,
    5027558287275472836, 4635198586344772304, -536033143587636457,
    5907508150730407386, -8438615781380831356, 972392927514829904,
    -3801314342046600696, -4064951393885491917, -174840358296132583,
    2407211146698877100, -1640089820333676239, 3940796514530962282,
    -5882197405809569433, 3095313889586102949, -1818050141166537098,
    5832080132947175283, 7890064875145919662, 8184139210799583195,
    -8073512175445549678, -7758774793014564506, -4581724029666783935,
    3516491885471466898, -8267083515063118116, 6657089965014657519,
    5220884358887979358, 1796677326474620641, 5340761970648932916,
    1147977171614181568, 5066037465548252321, 2574765911837859848,
    1085848279845204775, -5873264506986385449, 6116438694366558490,
    2107701075971293812, -7420077970933506541, 2469478054175558874,
    -1855128755834809824, -5431463669011098282, -9038325065738319171,
    -6966276280341336160, 7217693971077460129, -8314322083775271549,
    7196649268545224266, -3585711691453906209, -5267827091426810625,
    8057528650917418961, -5084103596553648165, -2601445448341207749,
    -7850010900052094367, 6527366231383600011, 3507654575162700890,
    9202058512774729859, 1954818376891585542, -2582991129724600103,
    8299563319178235687, -5321504681635821435, 7046310742295574065,
    -2376176645520785576, -7650733936335907755, 8850422670118399721,
    3631909142291992901, 5158881091950831288, -6340413719511654215,
    4763258931815816403, 6280052734341785344, -4979582628649810958,
    2043464728020827976, -2678071570832690343, 4562580375758598164,
    5495451168795427352, -7485059175264624713, 553004618757816492,
    6895160632757959823, -989748114590090637, 7139506338801360852,
    -672480814466784139, 5535668688139305547, 2430933853350256242,
    -3821430778991574732, -1063731997747047009, -3065878205254005442,
    7632066283658143750, 6308328381617103346, 3681878764086140361,
    3289686137190109749, 6587997200611086848, 244714774258135476,
    -5143583659437639708, 8090302575944624335, 2945117363431356361,
    -8359047641006034763, 3009039260312620700, -793344576772241777,
    401084700045993341, -1968749590416080887, 4707864159563588614,
    -3583123505891281857, -3240864324164777915, -5908273794572565703,
    -3719524458082857382, -5281400669679581926, 8118566580304798074,
    3839261274019871296, 7062410411742090847, -8481991033874568140,
    6027994129690250817, -6725542042704711878, -2971981702428546974,
    -7854441788951256975, 8809096399316380241, 6492004350391900708,
    2462145737463489636, -8818543617934476634, -5070345602623085213,
    -8961586321599299868, -3758656652254704451, -8630661632476012791,
    6764129236657751224, -709716318315418359, -3403028373052861600,
    -8838073512170985897, -3999237033416576341, -2920240395515973663,
    -2073249475545404416, 368107899140673753, -6108185202296464250,
    -6307735683270494757, 4782583894627718279, 6718292300699989587,
    8387085186914375220, 3387513132024756289, 4654329375432538231,
    -292704475491394206, -3848998599978456535, 7623042350483453954,
    7725442901813263321, 9186225467561587250, -5132344747257272453,
    -6865740430362196008, 2530936820058611833, 1636551876240043639,
    -3658707362519810009, 1452244145334316253, -7161729655835084979,
    -7943791770359481772, 9108481583171221009, -3200093350120725999,
    5007630032676973346, 2153168792952589781, 6720334534964750538,
    -3181825545719981703, 3433922409283786309, 2285479922797300912,
    3110614940896576130, -2856812446131932915, -3804580617188639299,
    7163298419643543757, 4891138053923696990, 580618510277907015,
    1684034065251686769, 4429514767357295841, -8893025458299325803,
    -8103734041042601133, 7177515271653460134, 4589042248470800257,
    -1530083407795771245, 143607045258444228, 246994305896273627,
    -8356954712051676521, 6473547110565816071, 3092379936208876896,
    2058427839513754051, -4089587328327907870, 8785882556301281247,
    -3074039370013608197, -637529855400303673, 6137678347805511274,
    -7152924852417805802, 5708223427705576541, -3223714144396531304,
    4358391411789012426, 325123008708389849, 6837621693887290924,
    4843721905315627004, -3212720814705499393, -3825019837890901156,
    4602025990114250980, 1044646352569048800, 9106614159853161675,
    -8394115921626182539, -4304087667751778808, 2681532557646850893,
    3681559472488511871, -3915372517896561773, -2889241648411946534,
    -6564663803938238204, -8060058171802589521, 581945337509520675,
    3648778920718647903, -4799698790548231394, -7602572252857820065,
    220828013409515943, -1072987336855386047, 4287360518296753003,
    -4633371852008891965, 5513660857261085186, -2258542936462001533,
    -8744380348503999773, 8746140185685648781, 228500091334420247,
    1356187007457302238, 3019253992034194581, 3152601605678500003,
    -8793219284148773595, 5559581553696971176, 4916432985369275664,
    -8559797105120221417, -5802598197927043732, 2868348622579915573,
    -7224052902810357288, -5894682518218493085, 2587672709781371173,
    -7706116723325376475, 3092343956317362483, -5561119517847711700,
    972445599196498113, -1558506600978816441, 1708913533482282562,
    -2305554874185907314, -6005743014309462908, -6653329009633068701,
    -483583197311151195, 2488075924621352812, -4529369641467339140,
    -4663743555056261452, 2997203966153298104, 1282559373026354493,
    240113143146674385, 8665713329246516443, 628141331766346752,
    -4651421219668005332, -7750560848702540400, 7596648026010355826,
    -3132152619100351065, 7834161864828164065, 7103445518877254909,
    4390861237357459201, -4780718172614204074, -319889632007444440,
    622261699494173647, -3186110786557562560, -8718967088789066690,
    -1948156510637662747, -8212195255998774408, -7028621931231314745,
    2623071828615234808, -4066058308780939700, -5484966924888173764,
    -6683604512778046238, -6756087640505506466, 5256026990536851868,
    7841086888628396109, 6640857538655893162, -8021284697816458310,
    -7109857044414059830, -1689021141511844405, -4298087301956291063,
    -4077748265377282003, -998231156719803476, 2719520354384050532,
    9132346697815513771, 4332154495710163773, -2085582442760428892,
    6994721091344268833, -2556143461985726874, -8567931991128098309,
    59934747298466858, -3098398008776739403, -265597256199410390,
    2332206071942466437, -7522315324568406181, 3154897383618636503,
    -7585605855467168281, -6762850759087199275, 197309393502684135,
    -8579694182469508493, 2543179307861934850, 4350769010207485119,
    -4468719947444108136, -7207776534213261296, -1224312577878317200,
    4287946071480840813, 8362686366770308971, 6486469209321732151,
    -5605644191012979782, -1669018511020473564, 4450022655153542367,
    -7618176296641240059, -3896357471549267421, -4596796223304447488,
    -6531150016257070659, -8982326463137525940, -4125325062227681798,
    -1306489741394045544, -8338554946557245229, 5329160409530630596,
    7790979528857726136, 4955070238059373407, -4304834761432101506,
    -6215295852904371179, 3007769226071157901, -6753025801236972788,
    8928702772696731736, 7856187920214445904, -4748497451462800923,
    7900176660600710914, -7082800908938549136, -6797926979589575837,
    -6737316883512927978, 4186670094382025798, 1883939007446035042,
    -414705992779907823, 3734134241178479257, 4065968871360089196,
    6953124200385847784, -7917685222115876751, -7585632937840318161,
    -5567246375906782599, -5256612402221608788, 3106378204088556331,
    -2894472214076325998, 4565385105440252958, 1979884289539493806,
    -6891578849933910383, 3783206694208922581, 8464961209802336085,
    2843963751609577687, 3030678195484896323, -4429654462759003204,
    4459239494808162889, 402587895800087237, 8057891408711167515,
    4541888170938985079, 1042662272908816815, -3666068979732206850,
    2647678726283249984, 2144477441549833761, -3417019821499388721,
    -2105601033380872185, 5916597177708541638, -8760774321402454447,
    8833658097025758785, 5970273481425315300, 563813119381731307,
    -6455022486202078793, 1598828206250873866, -4016978389451217698,
    -2988328551145513985, -6071154634840136312, 8469693267274066490,
    125672920241807416, -3912292412830714870, -2559617104544284221,
    -486523741806024092, -4735332261862713930, 5923302823487327109,
    -9082480245771672572, -1808429243461201518, 7990420780896957397,
    4317817392807076702, 3625184369705367340, -6482649271566653105,
    -3480272027152017464, -3225473396345736649, -368878695502291645,
    -3981164001421868007, -8522033136963788610, 7609280429197514109,
    3020985755112334161, -2572049329799262942, 2635195723621160615,
    5144520864246028816, -8188285521126945980, 1567242097116389047,
    8172389260191636581, -2885551685425483535, -7060359469858316883,
    -6480181133964513127, -7317004403633452381, 6011544915663598137,
    5932255307352610768, 2241128460406315459, -8327867140638080220,
    3094483003111372717, 4583857460292963101, 9079887171656594975,
    -384082854924064405, -3460631649611717935, 4225072055348026230,
    -7385151438465742745, 3801620336801580414, -399845416774701952,
    -7446754431269675473, 7899055018877642622, 5421679761463003041,
    5521102963086275121, -4975092593295409910, 8735487530905098534,
    -7462844945281082830, -2080886987197029914, -1000715163927557685,
    -4253840471931071485, -5828896094657903328, 6424174453260338141,
    359248545074932887, -5949720754023045210, -2426265837057637212,
    3030918217665093212, -9077771202237461772, -3186796180789149575,
    740416251634527158, -2142944401404840226, 6951781370868335478,
    399922722363687927, -8928469722407522623, -1378421100515597285,
    -8343051178220066766, -3030716356046100229, -8811767350470065420,
    9026808440365124461, 6440783557497587732, 4615674634722404292,
    539897290441580544, 2096238225866883852, 8751955639408182687,
    -7316147128802486205, 7381039757301768559, 6157238513393239656,
    -1473377804940618233, 8629571604380892756, 5280433031239081479,
    7101611890139813254, 2479018537985767835, 7169176924412769570,
    -1281305539061572506, -7865612307799218120, 2278447439451174845,
    3625338785743880657, 6477479539006708521, 8976185375579272206,
    -3712000482142939688, 1326024180520890843, 7537449876596048829,
    5464680203499696154, 3189671183162196045, 6346751753565857109,
    -8982212049534145501, -6127578587196093755, -245039190118465649,
    -6320577374581628592, 7208698530190629697, 7276901792339343736,
    -7490986807540332668, 4133292154170828382, 2918308698224194548,
    -7703910638917631350, -3929437324238184044, -4300543082831323144,
    -6344160503358350167, 5896236396443472108, -758328221503023383,
    -1894351639983151068, -307900319840287220, -6278469401177312761,
    -2171292963361310674, 8382142935188824023, 9103922860780351547,
    4152330101494654406,
)
# fmt: on
