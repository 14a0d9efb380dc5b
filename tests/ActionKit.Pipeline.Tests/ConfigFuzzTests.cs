using ActionKit.Fuzzing;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Templates;

namespace ActionKit.Pipeline.Tests;

/// <summary>The fuzz corpus of the configuration readers: params.yaml and template files (the built-in templates'
/// text, and a user template that inherits one).</summary>
[Trait("Category", "Fuzz")]
public sealed class ConfigFuzzTests
{
    static readonly string Repository = ParamsLoaderTests.FindRepositoryRoot();

    static byte[] RepositoryFile(params string[] parts) => File.ReadAllBytes(Path.Combine([Repository, .. parts]));

    [Fact]
    public void ParamsFiles() => new FuzzCorpus<ParamsException>("params.yaml", "params.yaml")
    {
        Seeds = [RepositoryFile("params.yaml"), "data:\n  root: /datasets/hmdb51\n  split: 2\n  source: videos\ntrain:\n  epochs: 3\n  batch_size: 4\n"u8.ToArray()],
        Mutations = Mutations.Text,
        Read = (path, _) => ParamsLoader.Load(path, []),
    }.Run(1000);

    [Fact]
    public void TemplateFiles() => new FuzzCorpus<TemplateException>("template .yaml", "my_template.yaml")
    {
        Seeds =
        [
            RepositoryFile("src", "ActionKit.Pipeline", "Templates", "x3d.yaml"),
            RepositoryFile("src", "ActionKit.Pipeline", "Templates", "x3d_cpu.yaml"),
            "id: My_X3D\nname: My X3D\ninherits: X3D-CPU\ndata:\n  crop_size: 48\nhyper_parameters:\n  epochs: 3\n  lr_steps: [1, 2]\n"u8.ToArray(),
        ],
        Mutations = Mutations.Text,
        Read = (path, _) => TemplateCatalog.Embedded.LoadFile(path),
    }.Run(1000);
}
