"""Imports from other ecosystems and exports back: character cards, tgw characters, zips."""

import base64
import copy
import io
import json
import stat
import struct
import zipfile
import zlib

import pytest
import yaml
from PIL import Image

from gradio_app.personalities.export import card_of, export_card_json, export_card_png, export_zip
from gradio_app.personalities.importers import ImportOptions, ImportRejected, cards, import_file, import_files, png
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.zoo import Zoo
from tests.conftest import SHARED_FIXTURES

SERAPHINA = SHARED_FIXTURES / "character_cards" / "default_Seraphina.png"
TGW = SHARED_FIXTURES / "tgw_characters"

FULL_V2 = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Captain Ödile Marsh",
        "description": "{{char}} commands the airship Petrel. She distrusts {{user}} at first.",
        "personality": "gruff, loyal, dry humour",
        "scenario": "{{user}} stowed away on the Petrel and has just been found.",
        "first_mes": "*{{char}} drags {{user}} out of the cargo hold.* Explain yourself.",
        "mes_example": (
            "<START>\n{{user}}: Who are you?\n{{char}}: The captain. Sit.\n<START>\n{{user}}: Hi\n{{char}}: Hm."
        ),
        "creator_notes": "An airship captain for adventure roleplay.",
        "system_prompt": "{{original}} Write in the present tense.",
        "post_history_instructions": "Keep {{char}}'s answers under 80 words.",
        "alternate_greetings": ["*{{char}} looks up from the map.* You again?", "Welcome aboard, {{user}}."],
        "character_book": {
            "name": "Petrel lore",
            "scan_depth": 4,
            "token_budget": 256,
            "recursive_scanning": False,
            "extensions": {"x": 1},
            "entries": [
                {
                    "keys": ["petrel"],
                    "content": "The Petrel is a three-masted airship.",
                    "extensions": {},
                    "enabled": True,
                    "insertion_order": 0,
                    "constant": True,
                },
                {
                    "keys": ["storm"],
                    "content": "Storms over the Grey Sea ground every ship.",
                    "extensions": {"depth": 2},
                    "enabled": True,
                    "insertion_order": 1,
                    "case_sensitive": False,
                    "name": "storms",
                    "priority": 5,
                    "id": 7,
                    "comment": "",
                    "selective": True,
                    "secondary_keys": ["rain"],
                    "constant": False,
                    "position": "after_char",
                },
            ],
        },
        "tags": ["adventure", "airship"],
        "creator": "pwebui tests",
        "character_version": "2.1",
        "extensions": {"talkativeness": "0.4", "depth_prompt": {"depth": 4, "prompt": "x"}, "world": "Grey Sea"},
    },
}


def nothing_written(user_zoo):
    return [p for p in user_zoo.rglob("*") if p.is_file()] == [] if user_zoo.exists() else True


def png_card(card_obj, keyword="chara", image=None):
    image = image or Image.new("RGBA", (32, 48), (200, 30, 30, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    payload = base64.b64encode(json.dumps(card_obj).encode()).decode()
    return png.with_text_chunks(out.getvalue(), {keyword: payload})


def load(result):
    return Personality.load(result.folder, result.personality_id)


# -- SillyTavern cards ---------------------------------------------------------------------------
def test_the_real_v2_png_card_imports_with_its_image_and_round_trips(tmp_path):
    zoo_dir = tmp_path / "zoo"
    result = import_file(SERAPHINA, zoo_dir)
    assert result.personality_id == "english/characters/seraphina"
    assert result.kind == "character card V2 (PNG)" and not result.has_scripts
    personality = load(result)
    config = personality.config
    assert config.name == "Seraphina" and config.author == "OtisAlejandro" and config.version == "1.0.0"
    for text in (config.personality_conditioning, config.welcome_message):
        assert "{{char}}" not in text and "{{user}}" not in text
    assert "Seraphina" in config.personality_conditioning
    assert config.personality_description == "ST Default Bot contest winner: roleplay bots category"
    # the picture is the logo, pixel for pixel, without the card chunk
    logo = personality.logo_path.read_bytes()
    assert "chara" not in png.text_chunks(png.read_chunks(logo))
    with Image.open(SERAPHINA) as original, Image.open(personality.logo_path) as imported:
        assert imported.size == original.size == (400, 600)
        assert imported.tobytes() == original.tobytes()
    # back to a card: every field as it was
    original_card = cards.card_from_png(SERAPHINA.read_bytes()).raw
    assert card_of(personality) == original_card
    exported = export_card_png(personality, tmp_path / "out")
    again = cards.card_from_png(exported.read_bytes())
    assert again.raw == original_card
    with Image.open(exported) as img:
        assert img.size == (400, 600)
    # and the zoo shows it
    zoo = Zoo([zoo_dir])
    assert zoo.get("english/characters/seraphina").name == "Seraphina"


def test_a_synthetic_card_filling_every_v2_field_round_trips(tmp_path):
    source = tmp_path / "odile.json"
    source.write_text(json.dumps(FULL_V2), encoding="utf-8")
    result = import_file(source, tmp_path / "zoo", ImportOptions(language="english", category="roleplay"))
    assert result.personality_id == "english/roleplay/captain_odile_marsh"
    personality = load(result)
    conditioning = personality.config.personality_conditioning
    assert "Captain Ödile Marsh commands the airship Petrel. She distrusts User at first." in conditioning
    assert "personality: gruff, loyal, dry humour" in conditioning
    assert "Scenario: User stowed away" in conditioning
    assert "The Petrel is a three-masted airship." in conditioning  # constant lore entry
    assert "Storms over the Grey Sea" not in conditioning  # keyword-triggered: kept, not injected
    assert "Write in the present tense." in conditioning and "{{original}}" not in conditioning
    assert "Keep Captain Ödile Marsh's answers under 80 words." in conditioning
    assert "<START>" not in conditioning and "User: Who are you?" in conditioning
    assert personality.config.welcome_message.startswith("*Captain Ödile Marsh drags User out")
    exported = json.loads(export_card_json(personality, tmp_path / "out").read_text(encoding="utf-8"))
    assert exported["data"] == FULL_V2["data"]
    assert exported["spec"] == "chara_card_v2" and exported["spec_version"] == "2.0"
    assert exported["name"] == FULL_V2["data"]["name"]  # V1 mirror for older readers
    # PNG export of a card that came as JSON: the drawn logo carries it
    again = cards.card_from_png(export_card_png(personality, tmp_path / "out").read_bytes())
    assert again.data == FULL_V2["data"]


def test_edits_after_import_are_exported(tmp_path):
    source = tmp_path / "odile.json"
    source.write_text(json.dumps(FULL_V2), encoding="utf-8")
    personality = load(import_file(source, tmp_path / "zoo"))
    data = yaml.safe_load((personality.folder / "config.yaml").read_text(encoding="utf-8"))
    data["welcome_message"] = "Who goes there?"
    data["model_temperature"] = 0.3
    (personality.folder / "config.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    card = card_of(Personality.load(personality.folder))
    assert card["data"]["first_mes"] == "Who goes there?"
    assert card["data"]["extensions"]["personalities_webui"] == {"model_temperature": 0.3}
    assert card["data"]["mes_example"] == FULL_V2["data"]["mes_example"]


def test_a_v1_card_imports_and_exports_as_v2(tmp_path):
    source = tmp_path / "v1.json"
    v1 = {"name": "Bob", "description": "<BOT> is a baker.", "personality": "kind", "scenario": "",
          "first_mes": "Hello <USER>!", "mes_example": ""}  # fmt: skip
    source.write_text(json.dumps(v1))
    result = import_file(source, tmp_path / "zoo")
    assert result.kind == "character card V1 (JSON)"
    personality = load(result)
    assert personality.config.welcome_message == "Hello User!"
    assert "Bob is a baker." in personality.config.personality_conditioning
    card = card_of(personality)
    assert card["spec"] == "chara_card_v2"
    assert {k: card["data"][k] for k in v1} == v1
    assert card["data"]["alternate_greetings"] == [] and card["data"]["tags"] == []


def test_a_ccv3_chunk_wins_over_chara(tmp_path):
    v3 = {"spec": "chara_card_v3", "spec_version": "3.0",
          "data": {**FULL_V2["data"], "name": "V3 Odile", "nickname": "Odie", "group_only_greetings": [],
                   "creation_date": 1700000000}}  # fmt: skip
    data = png_card(v3, "ccv3")
    data = png.with_text_chunks(data, {"chara": base64.b64encode(json.dumps(FULL_V2).encode()).decode()})
    source = tmp_path / "v3.png"
    source.write_bytes(data)
    result = import_file(source, tmp_path / "zoo")
    assert result.kind == "character card V3 (PNG)" and result.name == "V3 Odile"
    personality = load(result)
    assert personality.config.welcome_message.startswith("*Odie drags User")  # {{char}} = the nickname
    exported = card_of(personality)
    assert exported["spec"] == "chara_card_v2"
    assert exported["data"]["extensions"]["chara_card_v3"] == {
        "nickname": "Odie",
        "group_only_greetings": [],
        "creation_date": 1700000000,
    }


def test_a_native_personality_survives_card_export_and_import(tmp_path):
    from gradio_app.config import BUILTIN_ZOO

    native = Personality.load(BUILTIN_ZOO / "english" / "generic" / "lollms", "english/generic/lollms")
    exported = export_card_png(native, tmp_path / "out")
    result = import_file(exported, tmp_path / "zoo", ImportOptions(category="generic"))
    back = load(result).config.to_dict()
    back.pop("extensions")
    assert back == native.config.to_dict()


def corrupt(data, offset):
    broken = bytearray(data)
    broken[offset] ^= 0xFF
    return bytes(broken)


def chara_offset(data):
    return next(c.offset for c in png.read_chunks(data) if c.type == b"tEXt") + 20


def with_chara(payload):
    """A PNG card whose chara chunk is replaced by `payload` (None: removed)."""
    if payload is None:
        return png.with_text_chunks(png_card(FULL_V2), {}, drop=("chara",))
    return png.with_text_chunks(png_card(FULL_V2), {"chara": payload})


BAD_CARDS = [
    ("bad CRC", lambda: corrupt(png_card(FULL_V2), chara_offset(png_card(FULL_V2))), "bad CRC"),
    ("truncated", lambda: png_card(FULL_V2)[:-30], "past the end of the file"),
    ("no IEND", lambda: png_card(FULL_V2)[:-12], "truncated PNG"),
    ("no card", lambda: with_chara(None), "no character card"),
    ("bad base64", lambda: with_chara("%%%not base64%%%"), "not valid base64"),
    ("bad JSON", lambda: with_chara(base64.b64encode(b"{oops").decode()), "bad JSON"),
    ("wrong spec", lambda: png_card({**FULL_V2, "spec": "chara_card_v9"}), "unsupported card spec"),
    ("no data", lambda: png_card({"spec": "chara_card_v2", "spec_version": "2.0"}), "field 'data'"),
    ("bad field", lambda: png_card({**FULL_V2, "data": {**FULL_V2["data"], "tags": "a,b"}}), "data.tags"),
    ("empty name", lambda: png_card({**FULL_V2, "data": {**FULL_V2["data"], "name": " "}}), "non-empty name"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "make", "message"), BAD_CARDS, ids=[b[0] for b in BAD_CARDS])
def test_malformed_cards_are_refused_clearly_and_nothing_is_written(tmp_path, label, make, message):
    source = tmp_path / "card.png"
    source.write_bytes(make())
    zoo_dir = tmp_path / "zoo"
    with pytest.raises(ImportRejected, match=message) as err:
        import_file(source, zoo_dir)
    assert "card.png" in str(err.value)
    assert nothing_written(zoo_dir)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": 3}}', "data.name"),
        (b'{"name": "x", "description": [1]}', "field 'description'"),
        (b"[1, 2]", "unrecognised file"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"\xff\xd8\xff\xe0 jpeg bytes", "image without a character card"),
        (b"just: a\nmapping: here\n", "not a text-generation-webui character"),
        (b"name: [unclosed\n", "invalid YAML"),
    ],
)
def test_other_malformed_files_are_refused(tmp_path, content, message):
    source = tmp_path / "upload.bin"
    source.write_bytes(content)
    with pytest.raises(ImportRejected, match=message):
        import_file(source, tmp_path / "zoo")
    assert nothing_written(tmp_path / "zoo")


def test_importing_twice_needs_replace_and_builtin_ids_are_refused(tmp_path):
    source = tmp_path / "odile.json"
    source.write_text(json.dumps(FULL_V2))
    zoo_dir = tmp_path / "zoo"
    import_file(source, zoo_dir)
    with pytest.raises(ImportRejected, match="already exists"):
        import_file(source, zoo_dir)
    changed = copy.deepcopy(FULL_V2)
    changed["data"]["first_mes"] = "Changed."
    source.write_text(json.dumps(changed))
    result = import_file(source, zoo_dir, ImportOptions(replace=True))
    assert load(result).config.welcome_message == "Changed."
    assert [p.name for p in zoo_dir.iterdir()] == ["english"]  # no staging left behind
    with pytest.raises(ImportRejected, match="built-in"):
        import_file(source, tmp_path / "zoo2", reserved_ids={"english/characters/captain_odile_marsh"})


# -- text-generation-webui ----------------------------------------------------------------------
def test_tgw_sample_characters_import_with_their_avatar(tmp_path):
    zoo_dir = tmp_path / "zoo"
    outcomes = import_files(
        [TGW / "Assistant.yaml", TGW / "Example.yaml", TGW / "Example.png"], zoo_dir, ImportOptions(category="tgw")
    )
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert [o.personality_id for o in outcomes] == ["english/tgw/ai", "english/tgw/chiharu_yamada"]
    assistant, chiharu = (load(o) for o in outcomes)
    assert assistant.config.welcome_message == "How can I help you today?"
    assert "conversation with an AI Large Language Model" in assistant.config.personality_conditioning
    conditioning = chiharu.config.personality_conditioning
    assert "{{user}}" not in conditioning and "{{char}}" not in conditioning
    assert "User: So how did you get into computer engineering?" in conditioning
    assert "Chiharu Yamada: I've always loved tinkering" in conditioning
    assert chiharu.config.welcome_message.startswith("*Chiharu strides into the room")
    with Image.open(TGW / "Example.png") as avatar, Image.open(chiharu.logo_path) as logo:
        assert logo.size == avatar.size
    assert chiharu.config.extra["extensions"]["tgw_character"]["name"] == "Chiharu Yamada"
    assert assistant.logo_path is not None  # drawn when no avatar came


def test_the_older_tgw_format_is_read(tmp_path):
    source = tmp_path / "old.yaml"
    source.write_text(
        "char_name: Ada\nchar_persona: a patient teacher\nchar_greeting: Hello {{user}}.\n"
        'world_scenario: a classroom\nexample_dialogue: "<START>\\n{{user}}: hi\\n{{char}}: hi!"\n'
    )
    config = load(import_file(source, tmp_path / "zoo")).config
    assert config.name == "Ada" and config.welcome_message == "Hello User."
    assert "Ada's Persona: a patient teacher" in config.personality_conditioning
    assert "Scenario: a classroom" in config.personality_conditioning


# -- zips -----------------------------------------------------------------------------------------
def make_folder(root, scripts=False):
    folder = root / "my helper"
    (folder / "assets").mkdir(parents=True)
    (folder / "config.yaml").write_text(
        yaml.safe_dump(
            {"name": "My helper", "language": "english", "category": "tools", "personality_conditioning": "Help."}
        )
    )
    Image.new("RGB", (8, 8), "blue").save(folder / "assets" / "logo.png")
    if scripts:
        (folder / "scripts").mkdir()
        (folder / "scripts" / "processor.py").write_text("raise SystemExit('must never run')\n")
        (folder / "scripts" / "install.py").write_text("raise SystemExit('must never run')\n")
    return Personality.load(folder, "english/tools/my helper")


def test_a_zip_export_imports_back_identical_and_untrusted(tmp_path):
    personality = make_folder(tmp_path / "src", scripts=True)
    (personality.folder / ".trusted").write_text("trusted by the user\n")
    (personality.folder / ".install").write_text("done\n")
    (personality.folder / "config_local.yaml").write_text("secret: 1\n")
    archive = export_zip(personality, tmp_path / "out")
    names = zipfile.ZipFile(archive).namelist()
    assert "my helper/config.yaml" in names and "my helper/scripts/processor.py" in names
    assert not any(n.endswith((".trusted", ".install", "config_local.yaml")) for n in names)

    # a zip that does carry markers: they are dropped
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("my helper/.trusted", "trusted by the user\n")
        dst.writestr("my helper/.install", "done\n")
    result = import_file(forged, tmp_path / "zoo")
    assert result.personality_id == "english/tools/my helper"
    assert result.has_scripts and "trust" in result.summary()
    imported = load(result)
    assert not imported.trusted and imported.needs_install
    assert not (imported.folder / ".trusted").exists()
    for rel in ("config.yaml", "assets/logo.png", "scripts/processor.py", "scripts/install.py"):
        assert (imported.folder / rel).read_bytes() == (personality.folder / rel).read_bytes()


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            if isinstance(name, zipfile.ZipInfo):
                zf.writestr(name, data)
            else:
                zf.writestr(name, data)
    return path


def symlink_entry():
    info = zipfile.ZipInfo("p/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


CONFIG = yaml.safe_dump({"name": "Z"})
BAD_ZIPS = [
    ("slip", [("p/config.yaml", CONFIG), ("p/../../evil.py", "x")], "unsafe path"),
    ("absolute", [("/etc/cron.d/evil", "x"), ("config.yaml", CONFIG)], "unsafe path"),
    ("backslash", [("p\\..\\evil", "x"), ("p/config.yaml", CONFIG)], "unsafe path"),
    ("symlink", [("p/config.yaml", CONFIG), (symlink_entry(), "/etc/passwd")], "symbolic link"),
    ("no config", [("p/readme.txt", "hi")], "no personality in this zip"),
    ("two tops", [("a/config.yaml", CONFIG), ("b/config.yaml", CONFIG)], "no personality in this zip"),
    ("bad config", [("p/config.yaml", "name: Z\nmodel_temperature: hot\n")], "field 'model_temperature'"),
]


@pytest.mark.parametrize(("label", "entries", "message"), BAD_ZIPS, ids=[b[0] for b in BAD_ZIPS])
def test_unsafe_or_malformed_zips_are_refused_and_nothing_is_written(tmp_path, label, entries, message):
    archive = write_zip(tmp_path / "bad.zip", entries)
    with pytest.raises(ImportRejected, match=message):
        import_file(archive, tmp_path / "zoo")
    assert nothing_written(tmp_path / "zoo")
    assert not (tmp_path / "evil.py").exists()


def test_zip_size_caps(tmp_path, monkeypatch):
    from gradio_app.personalities.importers import zipped

    archive = write_zip(tmp_path / "many.zip", [("p/config.yaml", CONFIG)] + [(f"p/f{i}", "x") for i in range(30)])
    monkeypatch.setattr(zipped, "MAX_ENTRIES", 20)
    with pytest.raises(ImportRejected, match="entries; the limit is 20"):
        import_file(archive, tmp_path / "zoo")
    monkeypatch.setattr(zipped, "MAX_ENTRIES", 2000)

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("p/config.yaml", CONFIG)
        zf.writestr("p/assets/zeros.bin", b"\0" * 5_000_000)
    monkeypatch.setattr(zipped, "MAX_UNPACKED_BYTES", 1_000_000)
    with pytest.raises(ImportRejected, match="unpacks to"):
        import_file(bomb, tmp_path / "zoo")
    monkeypatch.setattr(zipped, "MAX_ZIP_BYTES", 100)
    with pytest.raises(ImportRejected, match="the limit is 100"):
        import_file(bomb, tmp_path / "zoo")
    assert nothing_written(tmp_path / "zoo")


def test_a_zip_lying_about_its_sizes_is_caught_while_unpacking(tmp_path):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("p/config.yaml", CONFIG)
        zf.writestr("p/big.bin", b"\0" * 2_000_000)
    # shrink the declared size of big.bin in both headers (local and central)
    data = bytearray(archive.read_bytes())
    declared = struct.pack("<I", 2_000_000)
    data = bytes(data).replace(declared, struct.pack("<I", 10))
    archive.write_bytes(data)
    with pytest.raises(ImportRejected, match=r"expands past its declared size|cannot be extracted"):
        import_file(archive, tmp_path / "zoo")
    assert nothing_written(tmp_path / "zoo")


def test_a_garbage_zip_is_refused(tmp_path):
    archive = tmp_path / "garbage.zip"
    archive.write_bytes(b"PK\x03\x04" + zlib.compress(b"not really a zip") * 3)
    with pytest.raises(ImportRejected, match="not a valid zip"):
        import_file(archive, tmp_path / "zoo")


def test_a_bare_config_yaml_imports(tmp_path):
    source = tmp_path / "config.yaml"
    source.write_text(yaml.safe_dump({"name": "Solo", "category": "misc", "personality_conditioning": "Be brief."}))
    result = import_file(source, tmp_path / "zoo")
    assert result.personality_id == "english/misc/solo"
    assert load(result).logo_path is not None
