import { ClientCredentials } from "./auth";
import { ConnectorRegistrationsApi } from "./connector-registrations";
import { CredentialsApi } from "./credentials";
import { createHttp, HttpOptions } from "./http";
import { JobsApi } from "./jobs";
import { LocationsApi } from "./locations";

export interface ImageportClientOptions extends Omit<HttpOptions, "credentials"> {
  credentials: ClientCredentials;
}

/** Entry point to an IPS-compatible API (imageportd or Citrix Cloud). */
export class ImageportClient {
  readonly endpoint: string;
  readonly credentials: CredentialsApi;
  readonly jobs: JobsApi;
  readonly locations: LocationsApi;
  readonly connectorRegistrations: ConnectorRegistrationsApi;

  constructor(options: ImageportClientOptions) {
    const { http } = createHttp(options);
    this.endpoint = options.endpoint;
    this.credentials = new CredentialsApi(http);
    this.jobs = new JobsApi(http);
    this.locations = new LocationsApi(http);
    this.connectorRegistrations = new ConnectorRegistrationsApi(http);
  }
}
