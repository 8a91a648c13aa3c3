import assert from "node:assert/strict";
import { EngineError } from "../../engine/errors";
import { checkFileName, checkLocation, parseLocation } from "../../engine/platforms/location";

describe("storage: location and file-name validation", () => {
  describe("parseLocation", () => {
    it("parses file:// directories and adds the trailing slash", () => {
      assert.deepEqual(parseLocation("file:///srv/images"), { scheme: "file", uri: "file:///srv/images/", dir: "/srv/images/" });
      assert.deepEqual(parseLocation("FILE:///srv/my%20images/"), {
        scheme: "file",
        uri: "file:///srv/my%20images/",
        dir: "/srv/my images/",
      });
    });

    it("parses smb:// shares with port, share and decoded path", () => {
      assert.deepEqual(parseLocation("smb://Files.example.com:4445/pvs/store/My%20Disks"), {
        scheme: "smb",
        uri: "smb://files.example.com:4445/pvs/store/My%20Disks/",
        host: "files.example.com",
        port: 4445,
        share: "pvs",
        path: ["store", "My Disks"],
      });
      const root = parseLocation("smb://10.0.1.212/Files/");
      assert.equal(root.scheme === "smb" && root.port, 445);
      assert.equal(root.uri, "smb://10.0.1.212/Files/");
      assert.deepEqual(root.scheme === "smb" && root.path, []);
    });

    it("throws a ValidationFailedError naming the field", () => {
      assert.throws(
        () => parseLocation("http://x/", "outputStorageLocation.location"),
        (err: EngineError) => err.code === "VALIDATION_FAILED" && err.fields?.[0]?.field === "outputStorageLocation.location",
      );
    });
  });

  describe("checkLocation refuses, saying what is allowed", () => {
    const refused: [string, RegExp][] = [
      ["", /empty/],
      ["/srv/images/", /no scheme/],
      ["http://host/share/", /scheme 'http:' is not supported/],
      ["nfs://host/export/", /scheme 'nfs:' is not supported/],
      ["file:relative/dir/", /followed by '\/\/'/],
      ["file://host/srv/", /no host and an absolute directory/],
      ["file:///srv/../etc/", /'\.' and '\.\.' segments/],
      ["file:///srv/./x/", /'\.' and '\.\.' segments/],
      ["file:///srv/%2e%2e/etc/", /'\.' and '\.\.' segments/],
      ["smb://host/share/..", /'\.' and '\.\.' segments/],
      ["smb://host\\share\\dir\\", /backslashes/],
      ["smb://host/share/a%5Cb/", /encoded '\/' or '\\'/],
      ["smb://host/", /share name is missing/],
      ["smb://host", /share name is missing/],
      ["smb://host//dir/", /empty path segment/],
      ["smb://:445/share/", /host is missing/],
      ["smb://host:0/share/", /port must be a number from 1 to 65535/],
      ["smb://host:65536/share/", /port must be a number/],
      ["smb://host:abc/share/", /port must be a number/],
      ["smb://host:/share/", /port must be a number/],
      ["smb://bad_host!/share/", /not a valid host name/],
      ["smb://[::1]/share/", /IPv6/],
      ["smb://host/sh*re/", /share name must be/],
      ["smb://host/share/a%3Fb/", /SMB directory names cannot hold/],
      ["smb://host/share/?x=1", /'\?' and '#'/],
      ["file:///srv/%zz/", /percent-encoding/],
      ["file:///srv/a%0Ab/", /control character/],
      ["file:///srv/a\nb/", /control character/],
    ];
    for (const [uri, why] of refused) {
      it(`refuses ${JSON.stringify(uri)}`, () => {
        const errors = checkLocation(uri, "location");
        assert.equal(errors.length, 1, `expected one error for ${uri}`);
        assert.equal(errors[0]!.field, "location");
        assert.match(errors[0]!.message, /must be file:\/\/\/absolute\/dir\/ or smb:\/\/host\[:port\]\/share\[\/path\]\//);
        assert.match(errors[0]!.message, why);
      });
    }

    it("refuses credentials in the URI without echoing them", () => {
      for (const uri of ["smb://admin:S3cr3t!@host/share/", "smb://admin@host/share/", "smb://dom;admin:S3cr3t!@host:445/share/dir/"]) {
        const [error] = checkLocation(uri, "location");
        assert.ok(error, uri);
        assert.match(error.message, /UsernamePassword credential/);
        assert.doesNotMatch(error.message, /S3cr3t|admin/);
      }
    });

    it("refuses values that are not strings", () => {
      assert.equal(checkLocation(42, "location").length, 1);
      assert.equal(checkLocation(undefined, "location").length, 1);
    });

    it("accepts the allowed forms", () => {
      for (const uri of ["file:///", "file:///srv/images", "smb://h/s", "smb://127.0.0.1:4445/pvs/store/", "smb://a-b.c/Share$/x y/"]) {
        assert.deepEqual(checkLocation(uri, "location"), [], uri);
      }
    });
  });

  describe("checkFileName", () => {
    it("accepts plain names", () => {
      for (const name of ["disk.vhdx", "My Disk (1).vhd", ".hidden", "ü.vhdx", "a".repeat(255)]) {
        assert.deepEqual(checkFileName(name, "outputImageFilename"), [], name);
      }
    });

    const refused: [unknown, RegExp][] = [
      ["", /empty/],
      [7, /not a string/],
      ["dir/disk.vhdx", /path separator/],
      ["dir\\disk.vhdx", /path separator/],
      [".", /'\.' and '\.\.'/],
      ["..", /'\.' and '\.\.'/],
      ["a\u0000b", /control character/],
      ["a\tb", /control character/],
      ["a".repeat(256), /longer than 255 bytes/],
      ["é".repeat(128), /longer than 255 bytes/], // 256 bytes in UTF-8
    ];
    for (const [name, why] of refused) {
      it(`refuses ${JSON.stringify(name).slice(0, 40)}`, () => {
        const [error] = checkFileName(name, "outputImageFilename");
        assert.ok(error);
        assert.equal(error.field, "outputImageFilename");
        assert.match(error.message, /must be a plain file name/);
        assert.match(error.message, why);
      });
    }

    it("applies SMB's stricter rules when the location is smb://", () => {
      assert.deepEqual(checkFileName('a"b.vhdx', "outputImageFilename", "file:///srv/"), []);
      for (const name of ['a"b.vhdx', "a*b", "a?b", "a:b", "a|b", "a<b>", "a;b"]) {
        const [error] = checkFileName(name, "outputImageFilename", "smb://host/share/");
        assert.ok(error, name);
        assert.match(error.message, /SMB names cannot hold/);
      }
    });
  });
});
