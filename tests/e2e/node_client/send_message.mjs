// Calls mindo.v1.Mindo/SendMessage from the .proto with Node's @grpc/grpc-js, the way any
// non-Python client would. Usage: node send_message.mjs TARGET API_KEY PROTO_PATH
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const [target, apiKey, protoPath] = process.argv.slice(2);
const definition = protoLoader.loadSync(protoPath, { keepCase: true, defaults: true });
const mindo = grpc.loadPackageDefinition(definition).mindo.v1;
const client = new mindo.Mindo(target, grpc.credentials.createInsecure());

const metadata = new grpc.Metadata();
metadata.set("x-api-key", apiKey);
const request = {
  phone_number_id: "813497231850626",
  template_name: "order_update",
  language: "es",
  recipient_phone: "+5491112345678",
  variables: { order_id: "ORD-001", status: "In transit" },
};

client.SendMessage(request, metadata, (error, response) => {
  if (error) {
    console.error(JSON.stringify({ code: error.code, details: error.details }));
    process.exit(1);
  }
  console.log(JSON.stringify(response));
  client.close();
});
