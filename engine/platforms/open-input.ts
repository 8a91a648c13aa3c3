import { DataRange, DiskFormat, DiskSource, openImageSource } from "../disk";
import { LocalCopy } from "./storage";

// An input read from a local file (the file itself, or a download of it): qemu-img inspects
// and maps it (image-source.ts). Closing the source also releases the copy.

export async function openLocalCopy(copy: LocalCopy, format: DiskFormat, workDir: string, signal: AbortSignal): Promise<DiskSource> {
  try {
    return new ReleasingSource(await openImageSource(copy.path, format, workDir, signal), copy);
  } catch (error) {
    await copy.release().catch(() => undefined);
    throw error;
  }
}

class ReleasingSource implements DiskSource {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly source: DiskSource,
    private readonly copy: LocalCopy,
  ) {}

  get name(): string {
    return this.source.name;
  }
  get virtualSize(): number {
    return this.source.virtualSize;
  }
  get localFile() {
    return this.source.localFile;
  }
  get bytesRead(): number {
    return this.source.bytesRead;
  }
  dataRanges(signal: AbortSignal): Promise<DataRange[]> {
    return this.source.dataRanges(signal);
  }
  read(offset: number, length: number, signal: AbortSignal): Promise<Buffer> {
    return this.source.read(offset, length, signal);
  }
  close(): Promise<void> {
    return (this.closing ??= this.source.close().finally(() => this.copy.release().catch(() => undefined)));
  }
}
