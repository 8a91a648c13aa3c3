import { CredentialRecord } from "../store/credential-store";

/** What every credentials response returns. Built from the record, which holds no secret. */
export type CredentialView = {
  id: string;
  type: string;
  name?: string;
  state: "Ok";
  createdAt: string;
  updatedAt: string;
} & Record<string, string>;

export function toView(record: CredentialRecord): CredentialView {
  return {
    id: record.id,
    type: record.type,
    ...(record.name !== undefined ? { name: record.name } : {}),
    state: "Ok",
    ...record.publicFields,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
