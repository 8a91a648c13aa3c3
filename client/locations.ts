import { AxiosInstance } from "axios";
import { ApiError } from "./errors";

/** A place where connectors run jobs, as `/ips/resourceLocations` returns it. */
export interface ResourceLocationView {
  id: string;
  name: string;
  /** Jobs of this location that may run at once, across all its connectors. */
  maxConcurrentJobs: number;
  createdAt: string;
  updatedAt: string;
}

/** What a location is given on create and update; the engine defaults maxConcurrentJobs to 2. */
export interface ResourceLocationBody {
  name: string;
  maxConcurrentJobs?: number;
}

/** Resource locations: `/ips/resourceLocations`. */
export class LocationsApi {
  constructor(private readonly http: AxiosInstance) {}

  async create(id: string, body: ResourceLocationBody): Promise<ResourceLocationView> {
    return (await this.http.post("/ips/resourceLocations", { id, ...body })).data;
  }

  /** The location, or undefined when there is none with this id. */
  async get(id: string): Promise<ResourceLocationView | undefined> {
    try {
      return (await this.http.get(path(id))).data;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async list(): Promise<ResourceLocationView[]> {
    return (await this.http.get("/ips/resourceLocations")).data.items;
  }

  /** Renames the location or changes its job limit (a missing limit keeps the current one). */
  async update(id: string, body: ResourceLocationBody): Promise<ResourceLocationView> {
    return (await this.http.put(path(id), body)).data;
  }

  /**
   * Deletes the location; true if it existed. The engine refuses (409 RESOURCE_LOCATION_IN_USE)
   * while connectors are registered to it or its jobs have not finished.
   */
  async delete(id: string): Promise<boolean> {
    try {
      await this.http.delete(path(id));
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }
}

function path(id: string): string {
  return `/ips/resourceLocations/${encodeURIComponent(id)}`;
}
