using System.Text;
using ActionKit.Export.Onnx;
using ActionKit.Export.OpenVino;
using ActionKit.Fuzzing;

namespace ActionKit.Export.Tests;

/// <summary>The fuzz corpus of the exported-model readers: model.onnx opened by ONNX Runtime, and OpenVINO IR
/// (openvino.xml and openvino.bin) read back by ActionKit's reader.</summary>
[Trait("Category", "Fuzz")]
public sealed class ModelFileFuzzTests
{
    static readonly (string Xml, byte[] Bin)[] Irs = [IrWriter.Serialize(SampleGraphs.TinyX3D()), IrWriter.Serialize(SampleGraphs.TinyX3D(2, quantized: true))];

    [Fact]
    public void IrXmlFiles() => new FuzzCorpus<IrFormatException>("OpenVINO IR .xml", "openvino.xml")
    {
        Seeds = [Encoding.UTF8.GetBytes(Irs[0].Xml)],
        Mutations = Mutations.Text,
        Setup = folder => File.WriteAllBytes(Path.Combine(folder, "openvino.bin"), Irs[0].Bin),
        Read = (path, _) => IrReader.Read(path),
    }.Run(1000);

    [Fact]
    public void QuantizedIrXmlFiles() => new FuzzCorpus<IrFormatException>("OpenVINO IR .xml (FakeQuantize)", "openvino.xml")
    {
        Seeds = [Encoding.UTF8.GetBytes(Irs[1].Xml)],
        Mutations = Mutations.Text,
        Setup = folder => File.WriteAllBytes(Path.Combine(folder, "openvino.bin"), Irs[1].Bin),
        Read = (path, _) => IrReader.Read(path),
    }.Run(500);

    [Fact]
    public void IrBinFiles() => new FuzzCorpus<IrFormatException>("OpenVINO IR .bin", "openvino.bin")
    {
        Seeds = [Irs[0].Bin],
        Mutations = Mutations.Binary,
        Setup = folder => File.WriteAllText(Path.Combine(folder, "openvino.xml"), Irs[0].Xml),
        Read = (path, _) => IrReader.Read(Path.ChangeExtension(path, ".xml")),
        // A bad constant is reported at the .xml layer that reads it (a short .bin names both files).
        NamedFile = path => Path.ChangeExtension(path, ".xml"),
    }.Run(1000);

    [Fact]
    public void OnnxFiles() => new FuzzCorpus<InvalidDataException>("model.onnx", "model.onnx")
    {
        Seeds = [OnnxWriter.Serialize(SampleGraphs.TinyX3D()), OnnxWriter.Serialize(SampleGraphs.TinyX3D(3, quantized: true))],
        Mutations = [.. Mutations.Binary, Mutations.InflateNumber],
        Read = (path, _) =>
        {
            using var runner = new OnnxRunner(path, threads: 1);
        },
        // ONNX Runtime allocates natively; what the managed side allocates stays small.
    }.Run(1000);
}
