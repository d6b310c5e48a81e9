"""Ask TF Serving's gRPC API to classify a video's centre clip (needs tensorflow-serving-api,
in keras-video's [export] extra).

    python examples/tf_serving/grpc_client.py video.mp4 --model s3dg [--target localhost:8500]
"""
import argparse
import os
import sys

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from litert_predict import centre_clip  # noqa: E402


def predict_request(model, clip):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    request.inputs["video"].CopyFrom(tf.make_tensor_proto(clip[None]))  # uint8, sent as bytes
    return request


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("--model", required=True)
    parser.add_argument("--target", default="localhost:8500")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()

    clip = centre_clip(args.video, args.frames, args.size, args.size)
    with grpc.insecure_channel(args.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(predict_request(args.model, clip), timeout=60)
        except grpc.RpcError as error:
            sys.exit(f"{args.target}: {error.code().name}: {error.details()}")
    classes = tf.make_ndarray(response.outputs["classes"])[0]
    scores = tf.make_ndarray(response.outputs["scores"])[0]
    for label, score in zip(classes, scores):
        print(f"{label.decode()}\t{score:.4f}")


if __name__ == "__main__":
    main()
