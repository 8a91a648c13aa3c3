import { strict as assert } from "assert";
import { CheckContext } from "../../provider/handler";
import { UNKNOWN } from "../../provider/properties";
import { handlers } from "../../provider/resources";
import { masterImagePath } from "../../provider/resources/image";
import { validateInputs } from "../../provider/validate";

const IMAGE = "imageport:index:Image";
const ctx: CheckContext = { urn: "urn:x", name: "golden", randomSeed: Buffer.alloc(0), secretKeys: new Set() };
const check = (inputs: Record<string, unknown>) => [...handlers[IMAGE].check(inputs, {}, ctx).failures, ...validateInputs(IMAGE, inputs)];
const byProperty = (inputs: Record<string, unknown>) => Object.fromEntries(check(inputs).map((f) => [f.property, f.reason]));
const aws = { platform: "aws", platformCredentialId: "aws", imageName: "golden", region: "us-east-1", snapshotId: "snap-0123456789abcdef0" };
const azure = { platform: "azure", platformCredentialId: "az", imageName: "golden", diskId: "/subscriptions/s/resourceGroups/rg-images/providers/Microsoft.Compute/disks/d" };
const vsphere = {
  platform: "vsphere",
  imageName: "win11-gold",
  inputStorageLocation: { location: "smb://files/images/", credentialId: "smb" },
  inputImageFilename: "win11.vhdx",
  vsphereHost: "vcenter.example.com",
  vsphereCredentialId: "vc",
  vsphereDatastore: "ds1",
};
/** The handler's own checks (schema.json's types and enums are validateInputs'). */
const own = (inputs: Record<string, unknown>) => Object.fromEntries(handlers[IMAGE].check(inputs, {}, ctx).failures.map((f) => [f.property, f.reason]));

describe("Image: checks name each platform's fields, and the master image path has the MCS form", () => {
  it("accepts a complete aws and a complete azure image", () => {
    assert.deepEqual(check(aws), []);
    assert.deepEqual(check(azure), []);
  });

  it("names a missing platform field and a field of the other platform", () => {
    const failures = byProperty({ ...aws, snapshotId: undefined, diskId: "x" });
    assert.match(failures.snapshotId, /snapshotId is required for platform aws/);
    assert.match(failures.diskId, /diskId applies to platform azure only; remove it for aws/);
    assert.match(byProperty({ ...azure, region: "westeurope" }).region, /region applies to platform aws only/);
  });

  it("refuses gcp with the allowed platforms listed", () => {
    assert.match(byProperty({ ...aws, platform: "gcp" }).platform, /must be one of aws, azure(, vsphere)?; got "gcp"/);
  });

  it("vsphere: requires the disk file, vCenter and the datastore, and refuses the clouds' fields (and they its own)", () => {
    assert.deepEqual(own(vsphere), {});
    const missing = own({ ...vsphere, inputImageFilename: undefined, vsphereDatastore: undefined, platformCredentialId: "aws", snapshotId: "snap-0123456789abcdef0" });
    assert.match(missing.inputImageFilename, /inputImageFilename is required for platform vsphere/);
    assert.match(missing.vsphereDatastore, /vsphereDatastore is required for platform vsphere/);
    assert.match(missing.platformCredentialId, /platformCredentialId applies to platform aws and azure only; remove it for vsphere/);
    assert.match(missing.snapshotId, /snapshotId applies to platform aws only/);
    assert.match(own({ ...aws, vsphereFolder: "DC0/vm/gold", snapshotName: "s" }).vsphereFolder, /vsphereFolder applies to platform vsphere only; remove it for aws/);
    assert.match(own({ ...azure, platformCredentialId: undefined }).platformCredentialId, /platformCredentialId is required for platform azure/);
  });

  it("does not judge a source that is still unknown (the upload runs in the same up)", () => {
    assert.deepEqual(check({ ...aws, snapshotId: UNKNOWN }), []);
    assert.deepEqual(check({ ...azure, diskId: UNKNOWN }), []);
  });

  it("builds the hosting-unit path of an AMI and of an Azure snapshot, and none without a hosting unit", () => {
    assert.equal(masterImagePath({ ...aws, hostingUnit: "east", imageId: "ami-0abc" }), "XDHyp:\\HostingUnits\\east\\golden (ami-0abc).ami");
    const snapshot = "/subscriptions/s/resourceGroups/rg%20images/providers/Microsoft.Compute/snapshots/golden";
    assert.equal(masterImagePath({ ...azure, hostingUnit: "weu", imageId: snapshot }), "XDHyp:\\HostingUnits\\weu\\image.folder\\rg images.resourcegroup\\golden.snapshot");
    assert.equal(masterImagePath({ ...aws, imageId: "ami-0abc" }), undefined);
    assert.equal(masterImagePath({ ...aws, hostingUnit: "east" }), undefined, "not before the image exists");
  });

  it("builds the hosting-unit path of a vSphere VM as of its snapshot, with the snapshot name the job used", () => {
    const made = { ...vsphere, hostingUnit: "cluster-a", imageId: "vm-42", vmSnapshotName: "imageport" };
    assert.equal(masterImagePath(made), "XDHyp:\\HostingUnits\\cluster-a\\win11-gold.vm\\imageport.snapshot");
    assert.equal(masterImagePath({ ...made, snapshotName: "gold 1", vmSnapshotName: "gold 1" }), "XDHyp:\\HostingUnits\\cluster-a\\win11-gold.vm\\gold 1.snapshot");
    assert.equal(masterImagePath({ ...made, hostingUnit: undefined }), undefined);
    assert.equal(masterImagePath({ ...made, imageId: undefined }), undefined, "not before the VM exists");
  });
});
