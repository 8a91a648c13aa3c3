import { OperationContext } from "../handler";
import { PropertyMap } from "../properties";
import { getVirtualMachines } from "./get-virtual-machines";

export type FunctionHandler = (args: PropertyMap, ctx: OperationContext) => Promise<PropertyMap>;

/** One handler per function token of schema.json. */
export const functions: Record<string, FunctionHandler> = {
  "imageport:index:getVirtualMachines": getVirtualMachines,
};
