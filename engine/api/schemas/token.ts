/** POST /cctrustoauth2/{customerId}/tokens/clients (form fields; extra ones such as scope are ignored). */
export const tokenRequestBody = {
  type: "object",
  required: ["grant_type", "client_id", "client_secret"],
  properties: {
    grant_type: { type: "string", enum: ["client_credentials"] },
    client_id: { type: "string", minLength: 1, maxLength: 256 },
    client_secret: { type: "string", minLength: 1, maxLength: 1024 },
  },
};
