"""The deployment examples run as a user runs them, on files exported by the tests."""
import concurrent.futures
import http.server
import json
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf

from keras_video import data, export, zoo

from conftest import TINY

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
LABELS = ["walk", "run", "jump"]
sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(EXAMPLES / "tf_serving"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("examples")
    model = zoo.get("ir_csn_26", input_shape=(8, 32, 32, 3), classes=3, **TINY)
    video = str(root / "v.mp4")
    rng = np.random.default_rng(0)
    data.write_video(video, rng.integers(0, 256, size=(14, 36, 44, 3)).astype("uint8"), fps=10)
    from litert_predict import centre_clip
    clip = centre_clip(video, 8, 32, 32)
    return root, model, video, clip, export.load(model, LABELS)(clip[None])[0]


@pytest.mark.parametrize("script,fmt", [("litert_predict.py", "tflite"),
                                        ("onnxruntime_predict.py", "onnx")])
def test_runtime_examples_print_the_models_scores(exported, script, fmt):
    root, model, video, _, expected = exported
    path = str(root / f"m.{fmt}")
    if fmt == "tflite":
        export.export_tflite(model, path, class_names=LABELS)
    else:
        export.export_onnx(model, path, class_names=LABELS)
    ran = subprocess.run([sys.executable, str(EXAMPLES / script), path, video, "--top", "3"],
                         capture_output=True, text=True, timeout=300, cwd=EXAMPLES)
    assert ran.returncode == 0, ran.stderr
    printed = [line.split("\t") for line in ran.stdout.strip().splitlines()]
    order = np.argsort(-expected)
    assert [label for label, _ in printed] == [LABELS[i] for i in order]
    np.testing.assert_allclose([float(s) for _, s in printed], expected[order], atol=1e-4)


class StandInServer:
    """TF Serving's two front ends (gRPC PredictionService.Predict and REST
    `POST /v1/models/NAME:predict`, row format) over loopback, answering from the exported
    SavedModel's signatures. A stand-in: this project's CI has no Docker for the real server."""

    def __init__(self, name, savedmodel):
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        self.name, self.served = name, tf.saved_model.load(savedmodel)
        server = self

        class Predictions(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):
                if request.model_spec.name != name:
                    context.abort(grpc.StatusCode.NOT_FOUND, f"no model {request.model_spec.name}")
                outputs = server.predict(request.model_spec.signature_name,
                                         {k: tf.make_ndarray(v) for k, v in request.inputs.items()})
                response = predict_pb2.PredictResponse()
                for key, value in outputs.items():
                    response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
                return response

        self.grpc = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Predictions(),
                                                                             self.grpc)
        self.grpc_port = self.grpc.add_insecure_port("127.0.0.1:0")
        self.grpc.start()

        class Rest(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != f"/v1/models/{name}:predict":
                    return self.send_error(404, f"no model at {self.path}")
                instances = body["instances"]
                outputs = server.predict(body.get("signature_name"), {
                    key: np.asarray([row[key] for row in instances]) for key in instances[0]})
                rows = [{key: value[i].tolist() for key, value in outputs.items()}
                        for i in range(len(instances))]
                for row in rows:
                    row["classes"] = [c.decode() for c in row["classes"]]
                answer = json.dumps({"predictions": rows}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Rest)
        self.rest_port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def predict(self, signature_name, inputs):
        signature = self.served.signatures[signature_name or "serving_default"]
        dtypes = {k: v.dtype for k, v in signature.structured_input_signature[1].items()}
        outputs = signature(**{k: tf.constant(v, dtypes[k]) for k, v in inputs.items()})
        return {key: value.numpy() for key, value in outputs.items()}

    def close(self):
        self.grpc.stop(None)
        self.http.shutdown()


def test_tf_serving_clients_classify_a_video_over_loopback(exported, tmp_path):
    """Both client scripts, run as a user runs them, against the stand-in server: the labels
    and scores they print are the SavedModel's top-k for the video's centre clip."""
    _, model, video, _, expected = exported
    server = StandInServer("csn", export.export_savedmodel(model, tmp_path / "csn",
                                                           class_names=LABELS, warmup=False))
    order = np.argsort(-expected)
    try:
        for script, address in (("rest_client.py", f"--url=http://127.0.0.1:{server.rest_port}"),
                                ("grpc_client.py", f"--target=127.0.0.1:{server.grpc_port}")):
            ran = subprocess.run([sys.executable, str(EXAMPLES / "tf_serving" / script), video,
                                  "--model", "csn", address, "--frames", "8", "--size", "32"],
                                 capture_output=True, text=True, timeout=300)
            assert ran.returncode == 0, ran.stderr
            printed = [line.split("\t") for line in ran.stdout.strip().splitlines()]
            assert [label for label, _ in printed] == [LABELS[i] for i in order], script
            np.testing.assert_allclose([float(s) for _, s in printed], expected[order],
                                       atol=1e-4)
        wrong = subprocess.run([sys.executable, str(EXAMPLES / "tf_serving" / "rest_client.py"),
                                video, "--model", "nope",
                                f"--url=http://127.0.0.1:{server.rest_port}"],
                               capture_output=True, text=True, timeout=300)
        assert wrong.returncode == 1 and "HTTP 404" in wrong.stderr, wrong.stderr
        wrong = subprocess.run([sys.executable, str(EXAMPLES / "tf_serving" / "grpc_client.py"),
                                video, "--model", "nope", f"--target=127.0.0.1:{server.grpc_port}"],
                               capture_output=True, text=True, timeout=300)
        assert wrong.returncode == 1 and "NOT_FOUND: no model nope" in wrong.stderr, wrong.stderr
    finally:
        server.close()
